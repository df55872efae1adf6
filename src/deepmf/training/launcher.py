"""What a job needs to know about the Hydra launcher that runs it beside other jobs."""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import DictConfig

#: Parts of the launchers' ``_target_`` (Hydra's joblib and submitit plugins).
JOBLIB = "JoblibLauncher"
SUBMITIT_LOCAL = "hydra_submitit_launcher.submitit_launcher.LocalLauncher"
SUBMITIT = "hydra_submitit_launcher.submitit_launcher."


def launcher_config() -> DictConfig | None:
    """The launcher section of the running Hydra job, or None outside Hydra."""
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get().launcher if HydraConfig.initialized() else None


def parallel_jobs(launcher: DictConfig | None, sweep_jobs: int | None = None) -> int:
    """How many jobs the launcher runs at once on this machine (1 for the serial basic launcher).

    joblib runs ``n_jobs``; submitit's local executor starts every job of the sweep (``sweep_jobs``) at once.
    """
    target = str((launcher or {}).get("_target_", ""))
    if SUBMITIT_LOCAL in target:
        return max(1, sweep_jobs or 1)
    if JOBLIB not in target:
        return 1
    assert launcher is not None
    n_jobs = int(launcher.get("n_jobs") or -1)
    cores = os.cpu_count() or 1
    return cores + 1 + n_jobs if n_jobs < 0 else n_jobs  # joblib: -1 is every core, -2 all but one, ...


def job_threads(
    threads: int | None, launcher: DictConfig | None, sweep_jobs: int | None = None
) -> int | None:
    """Torch threads for one job: ``threads`` when set, else the CPUs the launcher gave the job.

    Under submitit that is ``cpus_per_task`` when set (SLURM reserves them); otherwise, for launchers that
    run jobs side by side on this machine, cores // jobs at once. Jobs that each took torch's default of
    one thread per core would together oversubscribe the CPU. None keeps torch's default (the serial
    launcher, one job at a time).
    """
    if threads:
        return int(threads)
    cpus = (launcher or {}).get("cpus_per_task")
    if cpus and SUBMITIT in str((launcher or {}).get("_target_", "")):
        return int(cpus)
    jobs = parallel_jobs(launcher, sweep_jobs)
    return max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None


def sweep_jobs(launcher: DictConfig | None) -> int | None:
    """How many jobs the running sweep has (the grid of its ``multirun.yaml``) where the launcher starts
    them all at once (submitit's local executor); None elsewhere, or if not told."""
    from hydra.core.hydra_config import HydraConfig

    from deepmf.report.sweeps import sweep_grid

    if SUBMITIT_LOCAL not in str((launcher or {}).get("_target_", "")) or job_number() is None:
        return None
    grid = sweep_grid(Path(HydraConfig.get().sweep.dir) / "multirun.yaml")
    return len(grid) if grid is not None else None


def job_number() -> int | None:
    """Hydra's number of the running job in its sweep (``hydra.job.num``); None outside a multirun."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    return int(HydraConfig.get().job.num)
