"""Threads per job under Hydra's launchers: parallel jobs share the cores instead of oversubscribing them."""

import os

import pytest
from omegaconf import OmegaConf

from deepmf.training.launcher import job_threads, parallel_jobs

JOBLIB = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
BASIC = "hydra._internal.core_plugins.basic_launcher.BasicLauncher"


def launcher(target: str, **keys):
    return OmegaConf.create({"_target_": target, **keys})


@pytest.mark.parametrize(
    ("n_jobs", "expected"), [(2, 2), (3, 3), (-1, os.cpu_count()), (-2, max(1, os.cpu_count() - 1))]
)
def test_joblib_runs_n_jobs_at_once(n_jobs, expected):
    assert parallel_jobs(launcher(JOBLIB, n_jobs=n_jobs)) == expected


def test_serial_launchers_run_one_job():
    assert parallel_jobs(launcher(BASIC)) == 1
    assert parallel_jobs(None) == 1


def test_threads_are_cores_divided_by_parallel_jobs(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert job_threads(None, launcher(JOBLIB, n_jobs=4)) == 4
    assert job_threads(None, launcher(JOBLIB, n_jobs=32)) == 1  # never 0
    assert job_threads(None, launcher(BASIC)) is None  # torch's default, one thread per core
    assert job_threads(3, launcher(JOBLIB, n_jobs=4)) == 3  # an explicit threads= wins


SUBMITIT_LOCAL = "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher"
SUBMITIT_SLURM = "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"


def test_submitit_jobs_take_the_cpus_they_were_given(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 64)  # a cluster node's cores, shared with other jobs
    assert job_threads(None, launcher(SUBMITIT_SLURM, cpus_per_task=4)) == 4
    assert job_threads(None, launcher(SUBMITIT_LOCAL, cpus_per_task=3), sweep_jobs=2) == 3
    assert job_threads(2, launcher(SUBMITIT_SLURM, cpus_per_task=4)) == 2  # threads= wins


def test_submitit_local_starts_every_job_of_the_sweep_at_once(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert parallel_jobs(launcher(SUBMITIT_LOCAL), sweep_jobs=4) == 4
    assert job_threads(None, launcher(SUBMITIT_LOCAL, cpus_per_task=None), sweep_jobs=4) == 4
    assert job_threads(None, launcher(SUBMITIT_LOCAL), sweep_jobs=None) is None  # size unknown: one job
    assert job_threads(None, launcher(SUBMITIT_SLURM)) is None  # SLURM without cpus_per_task: its own
