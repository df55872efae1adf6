"""What a job needs to know about the Hydra launcher that runs it beside other jobs."""

from __future__ import annotations

import os

from omegaconf import DictConfig


def launcher_config() -> DictConfig | None:
    """The launcher section of the running Hydra job, or None outside Hydra."""
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get().launcher if HydraConfig.initialized() else None


def parallel_jobs(launcher: DictConfig | None) -> int:
    """How many jobs the launcher runs at once on this machine (1 for the serial basic launcher)."""
    if launcher is None or "JoblibLauncher" not in str(launcher.get("_target_", "")):
        return 1
    n_jobs = int(launcher.get("n_jobs") or -1)
    cores = os.cpu_count() or 1
    return cores + 1 + n_jobs if n_jobs < 0 else n_jobs  # joblib: -1 is every core, -2 all but one, ...


def job_threads(threads: int | None, launcher: DictConfig | None) -> int | None:
    """Torch threads for one job: ``threads`` when set, else cores // parallel jobs under joblib.

    Jobs that run side by side each take torch's default of one thread per core otherwise, and together
    oversubscribe the CPU. None keeps torch's default (the serial launcher, one job at a time).
    """
    if threads:
        return int(threads)
    jobs = parallel_jobs(launcher)
    return max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None


def job_number() -> int | None:
    """Hydra's number of the running job in its sweep (``hydra.job.num``); None outside a multirun."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    return int(HydraConfig.get().job.num)
