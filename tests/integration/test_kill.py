"""Real process deaths, through ``train.py`` (slow: several subprocesses). Run with ``pytest -m slow``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.runs import TINY

ROOT = Path(__file__).resolve().parents[2]
SMALL_DMF = ("model.user_first_width=32", "model.item_first_width=32")


def command(tmp_path: Path, *overrides: str) -> list[str]:
    flags = [o for o in overrides if o.startswith("-")]  # Hydra wants its flags before the overrides
    return [
        sys.executable,
        str(ROOT / "train.py"),
        *flags,
        f"hydra.sweep.dir={tmp_path}/multirun",
        f"paths.cache_dir={tmp_path}/cache",
        *TINY,
        *SMALL_DMF,
        *(o for o in overrides if not o.startswith("-")),
    ]


def environment(data_dir: Path) -> dict[str, str]:
    return dict(os.environ, DEEPMF_DATA_DIR=str(data_dir), WANDB_MODE="offline")


@pytest.mark.slow
def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path, ml100k_dir):
    epochs = "trainer.max_epochs=6"
    full = subprocess.run(
        command(tmp_path, epochs, f"hydra.run.dir={tmp_path}/full"),
        env=environment(ml100k_dir),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert full.returncode == 0, full.stderr[-2000:]

    killed_dir = tmp_path / "killed"
    process = subprocess.Popen(
        command(tmp_path, epochs, f"hydra.run.dir={killed_dir}"),
        env=environment(ml100k_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    last = killed_dir / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 300
    while not last.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)  # no cleanup of any kind: what a preempted node does
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (killed_dir / "metrics.json").exists()

    resumed = subprocess.run(
        command(tmp_path, epochs, f"hydra.run.dir={tmp_path}/resumed", f"resume={last}"),
        env=environment(ml100k_dir),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    expected = json.loads((tmp_path / "full" / "metrics.json").read_text())
    got = json.loads((tmp_path / "resumed" / "metrics.json").read_text())
    assert got["metrics"] == expected["metrics"]
    assert [r["epoch"] for r in got["history"]] == list(range(6))


@pytest.mark.slow
def test_multirun_records_a_diverged_job_and_runs_the_others(tmp_path, ml100k_dir):
    result = subprocess.run(
        command(tmp_path, "-m", "optim.lr=1e30,0.003", "trainer.max_epochs=1"),
        env=environment(ml100k_dir),
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    # The sweep runs every job and writes its report, then exits 1 because a job failed (README).
    assert result.returncode == 1, output[-2000:]
    assert "1 of 2 jobs failed" in output
    assert "non-finite training loss during epoch 0; lower optim.lr or check the data" in output
    assert "Traceback" not in output
    records = [json.loads((tmp_path / "multirun" / job / "metrics.json").read_text()) for job in "01"]
    assert [r["status"] for r in records] == ["failed", "completed"]
    assert records[0]["error"].startswith("NonFiniteLossError: non-finite training loss")


@pytest.mark.slow
def test_a_killed_sweep_rerun_with_the_same_command_runs_only_the_rest(tmp_path, ml100k_dir):
    sweep_command = command(tmp_path, "-m", "seed=0,1,2", "trainer.max_epochs=40")
    sweep = tmp_path / "multirun"
    process = subprocess.Popen(
        sweep_command, env=environment(ml100k_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    # Kill the sweep once job 0 completed and job 1 has trained some epochs.
    first, last = sweep / "0" / "metrics.json", sweep / "1" / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 300
    while not (first.exists() and last.exists()) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the sweep finished before it could be killed"
    assert not (sweep / "1" / "metrics.json").exists() and not (sweep / "2").exists()
    kept = first.read_text()

    rerun = subprocess.run(
        sweep_command, env=environment(ml100k_dir), capture_output=True, text=True, timeout=600
    )
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert first.read_text() == kept  # job 0 was not run again
    records = [json.loads((sweep / job / "metrics.json").read_text()) for job in "012"]
    assert [r["status"] for r in records] == ["completed"] * 3
    assert records[1]["resumed_from"] == str(last)  # from where the kill left it, not from scratch
    assert records[1]["history"][0]["epoch"] == 0 and len(records[1]["history"]) == 40
    assert records[2]["resumed_from"] is None
    summary = pd.read_csv(sweep / "summary.csv")
    assert sorted(summary["seed"]) == [0, 1, 2] and set(summary["status"]) == {"completed"}
