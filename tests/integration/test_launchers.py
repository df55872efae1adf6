"""Hydra's launchers as config choices: joblib and submitit's local executor run real sweeps end to end,
and the SLURM config is checked by composing it (no cluster here)."""

from __future__ import annotations

import json

import pandas as pd
from hydra import compose, initialize_config_dir

from tests.integration.test_train_cli import SMALL_DMF, run_train
from tests.runs import CONF


def job_records(sweep) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sweep.glob("*/metrics.json")}


def test_joblib_sweep_reports_every_job_and_a_failed_job_fails_alone(tmp_path, ml100k_dir):
    result = run_train(
        tmp_path, ml100k_dir, "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "seed=0,oops",
        "logger=none", *SMALL_DMF,
    )  # fmt: skip
    # The report is written, then the sweep exits 1 because a job failed (as under the basic launcher).
    assert result.returncode == 1, result.stderr[-3000:]
    sweep = tmp_path / "multirun"
    records = job_records(sweep)
    assert records["0"]["status"] == "completed"
    assert records["1"]["status"] == "failed" and records["1"]["error"].startswith("ValueError")
    assert records["0"]["threads"] >= 1  # cores // n_jobs
    summary = pd.read_csv(sweep / "summary.csv")
    assert sorted(summary["status"]) == ["completed", "failed"]
    assert "## Failed jobs" in (sweep / "table.md").read_text()


def test_submitit_local_sweep_runs_both_jobs_and_reports_them(tmp_path, ml100k_dir):
    result = run_train(
        tmp_path, ml100k_dir, "-m", "hydra/launcher=local", "seed=0,1", "logger=none", *SMALL_DMF
    )
    assert result.returncode == 0, result.stderr[-3000:]
    sweep = tmp_path / "multirun"
    assert (sweep / ".submitit").is_dir()  # the jobs really went through submitit
    records = job_records(sweep)
    assert {job: r["status"] for job, r in records.items()} == {"0": "completed", "1": "completed"}
    summary = pd.read_csv(sweep / "summary.csv")
    assert len(summary) == 2 and set(summary["status"]) == {"completed"}
    assert sorted(summary["seed"]) == [0, 1]


def launcher(name: str, *overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=[f"hydra/launcher={name}", *overrides], return_hydra_config=True)
    return cfg.hydra.launcher


def test_slurm_config_extends_the_plugin_with_per_job_resources():
    slurm = launcher("slurm")
    assert slurm._target_ == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    assert (slurm.cpus_per_task, slurm.mem_gb, slurm.gpus_per_node) == (4, 8, 0)
    assert (slurm.tasks_per_node, slurm.nodes) == (1, 1)  # one process per job, never a spanning run
    assert slurm.timeout_min == 480 and slurm.max_num_timeout == 3
    assert slurm.partition is None  # the plugin's own keys are still there to set
    assert launcher("slurm", "hydra.launcher.partition=gpu").partition == "gpu"


def test_local_config_extends_submitit_local():
    local = launcher("local")
    assert local._target_ == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher"
    assert local.timeout_min == 1440 and local.cpus_per_task is None
