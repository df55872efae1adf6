"""A sweep folder's latest sweep: the job folders its last Hydra sweep wrote, not those an earlier one left.

Hydra rewrites ``multirun.yaml`` when a sweep starts and numbers its jobs from 0, so a sweep into a used
``hydra.sweep.dir`` overwrites the job folders with its numbers and leaves an earlier sweep's other jobs
behind; read with the rest, they would mix two sweeps in one table or let ``report.best`` pick an old job.
Only the jobs in the grid of the folder's ``multirun.yaml`` (as Hydra's basic sweeper expands it) count;
the rest are named in a warning and left out. Jobs outside a folder with ``multirun.yaml``, or of another
sweeper, are all kept."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser

from deepmf.report.job import Job, read_yaml

log = logging.getLogger(__name__)


def latest_sweep(jobs: list[Job], root: Path) -> list[Job]:
    """Leave out the job folders that an earlier sweep into the same sweep folder left behind.

    Hydra rewrites ``<sweep>/multirun.yaml`` when a sweep starts and numbers its jobs from 0: the new jobs
    overwrite the old folders with their numbers and leave the others. Expanding the grid of
    ``multirun.yaml`` as Hydra's basic sweeper does gives the overrides of each job of the latest sweep,
    so a job folder whose number or overrides differ is an earlier sweep's. The rule needs only the files
    a sweep leaves, so the end-of-sweep callback, re-aggregation and ``report.best`` share it. Jobs outside
    a folder with ``multirun.yaml``, or of another sweeper, are all kept.
    """
    by_sweep: dict[Path, list[Job]] = {}
    for job in jobs:
        sweep = _sweep_folder(job.path, root)
        if sweep is not None:
            by_sweep.setdefault(sweep, []).append(job)
    stale = {job.path for sweep, group in by_sweep.items() for job in _earlier_sweeps_jobs(sweep, group)}
    return [job for job in jobs if job.path not in stale]


def _earlier_sweeps_jobs(sweep: Path, jobs: list[Job]) -> list[Job]:
    """The jobs under ``sweep`` that its latest sweep's grid does not list (with a warning)."""
    grid = sweep_grid(sweep / "multirun.yaml")
    if grid is None:
        return []
    stale = [job for job in jobs if not _in_grid(job, grid)]
    if stale:
        log.warning(
            "%s: left out %d job folder(s) from an earlier sweep into this folder (%s); its multirun.yaml "
            "(the latest sweep) lists %d job(s)",
            sweep,
            len(stale),
            ", ".join(job.path.name for job in stale),
            len(grid),
        )
    return stale


BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


def sweep_grid(multirun_yaml: Path) -> list[list[str]] | None:
    """Each job's overrides in job order, as Hydra's basic sweeper expands ``multirun.yaml``'s sweep;
    None when that cannot be told (no such file, another sweeper, an override it cannot expand)."""
    return hydra_sweep_grid((read_yaml(multirun_yaml) or {}).get("hydra") or {}, multirun_yaml)


def hydra_sweep_grid(hydra: dict[str, Any], where: Path | str) -> list[list[str]] | None:
    """The same from a sweep's ``hydra`` config (a multirun.yaml's, or one composed before the sweep runs);
    ``where`` names it in the warning when the sweep cannot be expanded."""
    sweeper = hydra.get("sweeper") or {}
    if sweeper.get("_target_") != BASIC_SWEEPER:
        return None
    arguments = [f"{key}={value}" for key, value in (sweeper.get("params") or {}).items()]
    arguments += [str(o) for o in (hydra.get("overrides") or {}).get("task") or []]
    try:
        # Hydra's own expansion (a private module: if it moves, every job folder is read, as before).
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

        overrides = OverridesParser.create().parse_overrides(arguments)
        batches = BasicSweeper.split_arguments(overrides, None)
    except Exception as exc:  # e.g. glob(), which needs Hydra's config loader: keep every job
        log.warning("%s: could not expand the sweep (%s); reading every job folder", where, exc)
        return None
    return [job for batch in batches for job in batch]


def _sweep_folder(job_folder: Path, root: Path) -> Path | None:
    """The nearest folder above the job, up to ``root``, holding a ``multirun.yaml``."""
    for parent in job_folder.parents:
        if (parent / "multirun.yaml").is_file():
            return parent
        if parent == root:
            break
    return None


def _in_grid(job: Job, grid: list[list[str]]) -> bool:
    """Whether the job's number and overrides are those of a job of ``grid`` (or it is no sweep's job)."""
    if job.num is None:  # not a job of a Hydra sweep
        return True
    return job.num < len(grid) and job.hydra_overrides == grid[job.num]


def natural_key(path: Path) -> tuple[Any, ...]:
    """A sort key for job folders that puts ``2`` before ``10`` (job order, not string order)."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in path.parts)
