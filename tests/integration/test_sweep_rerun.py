"""A sweep rerun with the same command into its folder keeps completed jobs and resumes the others
(fast: the killed job is simulated by removing its metrics.json; tests/integration/test_kill.py kills one)."""

from __future__ import annotations

import json

import pandas as pd

from tests.integration.test_train_cli import SMALL_DMF, run_train


def sweep(tmp_path, ml100k_dir, seeds: str):
    result = run_train(tmp_path, ml100k_dir, "-m", f"seed={seeds}", "logger=none", *SMALL_DMF)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + result.stderr


def record(tmp_path, job: str) -> dict:
    return json.loads((tmp_path / "multirun" / job / "metrics.json").read_text())


def test_rerun_keeps_completed_jobs_resumes_killed_ones_and_reruns_another_grid(tmp_path, ml100k_dir):
    sweep(tmp_path, ml100k_dir, "0,1")
    kept = (tmp_path / "multirun" / "0" / "metrics.json").read_text()
    (tmp_path / "multirun" / "1" / "metrics.json").unlink()  # killed after its last epoch's checkpoint

    output = sweep(tmp_path, ml100k_dir, "0,1")
    assert (tmp_path / "multirun" / "0" / "metrics.json").read_text() == kept  # not run again
    assert "completed earlier with the same overrides" in output
    last = tmp_path / "multirun" / "1" / "checkpoints" / "last.ckpt"
    assert record(tmp_path, "1")["resumed_from"] == str(last)
    assert record(tmp_path, "1")["status"] == "completed"
    summary = pd.read_csv(tmp_path / "multirun" / "summary.csv")
    assert sorted(summary["seed"]) == [0, 1] and set(summary["status"]) == {"completed"}

    # Another grid in the same folder: job 1 is now seed 2, whose folder holds seed 1's run.
    sweep(tmp_path, ml100k_dir, "0,2")
    assert (tmp_path / "multirun" / "0" / "metrics.json").read_text() == kept
    assert record(tmp_path, "1")["seed"] == 2 and record(tmp_path, "1")["resumed_from"] is None
    summary = pd.read_csv(tmp_path / "multirun" / "summary.csv")
    assert sorted(summary["seed"]) == [0, 2] and set(summary["status"]) == {"completed"}


def test_rerun_all_runs_every_job_again(tmp_path, ml100k_dir):
    sweep(tmp_path, ml100k_dir, "0")
    first = record(tmp_path, "0")
    # Mark the completed record: a kept job would leave the mark, a job trained again rewrites the file
    # (wall times cannot tell them apart: two short runs can take the same milliseconds).
    path = tmp_path / "multirun" / "0" / "metrics.json"
    path.write_text(json.dumps(first | {"marked_by_test": True}))
    result = run_train(tmp_path, ml100k_dir, "-m", "seed=0", "rerun=all", "logger=none", *SMALL_DMF)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "completed earlier" not in result.stdout + result.stderr
    again = record(tmp_path, "0")
    assert "marked_by_test" not in again and again["resumed_from"] is None
    assert again["metrics"] == first["metrics"]  # the same job, trained again from scratch


def test_a_kept_job_is_run_again_when_a_tuned_file_gives_it_other_values(tmp_path, ml100k_dir):
    # Table 2 run before the tuning stage, then again after it: the same overrides now compose the tuned
    # value, so the job is trained again, not kept with the value it had.
    def ease_sweep(*extra: str) -> dict:
        result = run_train(tmp_path, ml100k_dir, "-m", "+method=ease", "seed=0", "logger=none", *extra)
        assert result.returncode == 0, result.stderr[-3000:]
        return record(tmp_path, "0")

    assert ease_sweep()["config"]["model"]["l2"] == 200.0  # ML-100k's value: no tuned file yet
    tuned = tmp_path / "tuned" / "hparams" / "tuned" / "ml100k" / "ease.yaml"
    tuned.parent.mkdir(parents=True)
    tuned.write_text("model:\n  l2: 7.5\n")
    again = ease_sweep(f"hydra.searchpath=[file://{tmp_path / 'tuned'}]")
    assert again["config"]["model"]["l2"] == 7.5 and again["status"] == "completed"
