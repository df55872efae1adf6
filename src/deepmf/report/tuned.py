"""The values a tuning sweep chose, written where the tuned methods read them, with the sweep's budget.

``python -m deepmf.report.best <sweep> --write conf/hparams/tuned/<data>/<method>.yaml`` (and the
``tuning`` stage of ``python -m deepmf.reproduce``) writes the search's parameters as the best trial ran
them (chosen on validation: ``report.best``), the training they had besides (``trainer.max_epochs``,
``selection.patience``, eALS' ``model.iterations``, ``data.batch_size``) and, under ``tuning``, the
sweep's own record of its budget: trials, completed trials, summed wall time, the validation score.

``conf/train.yaml`` loads ``hparams/tuned/<data>/<method>.yaml`` (when it exists) into ``tuned.<method>``,
and the method configs read their values from there (``conf/method/dmf_tuned.yaml``; the baselines fall
back to their ML-100k values where no file exists).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from deepmf.io import write_atomic
from deepmf.report.best import pick_best, selection_monitor
from deepmf.report.collect import find_jobs
from deepmf.report.job import Job, read_yaml

#: Training settings a tuned method takes over from its trials besides the searched parameters.
TRAINING_KEYS = ("trainer.max_epochs", "selection.patience", "model.iterations", "data.batch_size")


def searched_keys(job: Job) -> list[str]:
    """The keys the job's sweeper searched (``hydra.sweeper.params`` of its ``.hydra/hydra.yaml``)."""
    hydra = (read_yaml(job.path / ".hydra" / "hydra.yaml") or {}).get("hydra") or {}
    params = (hydra.get("sweeper") or {}).get("params") or {}
    return list(params)


def tuned_values(folder: Path, monitor: str | None = None) -> dict[str, Any]:
    """The nested values of the best trial of ``folder`` and the sweep's budget under ``tuning``."""
    jobs = find_jobs(folder)
    monitor = monitor or selection_monitor(jobs)
    best = pick_best(jobs, monitor, folder)
    keys = searched_keys(best)
    if not keys:
        raise SystemExit(f"{best.path}: no hydra.sweeper.params in .hydra/hydra.yaml: not a tuning sweep")
    values: dict[str, Any] = {}
    for key in [*keys, *TRAINING_KEYS]:
        value = best.value(key)
        if value is not None or key in keys:
            _set(values, key, value)
    walls = [float(job.record.get("wall_time_s") or 0) for job in jobs]
    values["tuning"] = {
        "sweep": str(folder),
        "method": best.method,
        "dataset": best.dataset,
        "searched": keys,
        "trials": len(jobs),
        "completed": sum(job.completed for job in jobs),
        "wall_time_s": round(sum(walls), 1),
        "monitor": monitor,
        "best_value": best.metrics[monitor],
        "best_trial": best.path.name,
    }
    return values


def write_tuned(folder: Path, path: Path, monitor: str | None = None) -> dict[str, Any]:
    """Write :func:`tuned_values` of ``folder`` to ``path`` (YAML, atomically); return them."""
    values = tuned_values(folder, monitor)
    budget = values["tuning"]
    shown = readable(path)  # a committed file names no one's home folder
    header = (
        f"# Chosen on {budget['monitor']} (validation) by {budget['trials']} trials of {folder}\n"
        f"# (python -m deepmf.report.best {folder} --write {shown}); written by code, do not edit by hand.\n"
    )
    text = header + yaml.safe_dump(values, sort_keys=False)
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return values


def readable(path: Path) -> Path:
    """``path`` relative to the working directory when it lies below it, else as given."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def _set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        tree = tree.setdefault(part, {})
    tree[leaf] = value
