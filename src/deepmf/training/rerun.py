"""What a sweep job does with the folder an earlier attempt at it left: keep it, resume it, or start afresh.

Rerunning a killed sweep with the same command into the same ``hydra.sweep.dir`` gives each job its old
folder again (Hydra numbers jobs in grid order). With ``rerun=incomplete`` (the default) a job whose
``metrics.json`` says it completed, with the same overrides and the same resolved settings (its recorded
config: values a tuned file or a default gave count too, see ``resume.result_settings``), is kept as it is
and returns its metric to Hydra; a job that was killed or failed (or completed with other settings) after
writing ``checkpoints/last.ckpt`` resumes from there (if the checkpoint was trained with this job's
settings, see ``resume.check_resume``); any other starts afresh.
``rerun=all`` starts every job afresh. The report reads the job folders, so kept jobs are in it as before.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, open_dict

from deepmf.errors import ConfigError, DataError
from deepmf.overrides import same_job
from deepmf.training.resume import check_resume, differing_keys, result_settings, training_settings

log = logging.getLogger(__name__)

RERUN_CHOICES = ("incomplete", "all")


@dataclass(frozen=True)
class Attempt:
    """The decision for one job: ``keep`` its completed record, ``resume`` a checkpoint, or ``fresh``."""

    action: str
    reason: str
    record: dict[str, Any] | None = None
    checkpoint: Path | None = None


def check_rerun(rerun: Any) -> str:
    """The ``rerun`` setting, or a ConfigError naming the choices."""
    if rerun not in RERUN_CHOICES:
        raise ConfigError(f"rerun must be one of {', '.join(RERUN_CHOICES)}, got {rerun!r}")
    return str(rerun)


def read_record(folder: Path) -> dict[str, Any] | None:
    """The folder's ``metrics.json``, or None when there is none or it cannot be read."""
    try:
        record = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def decide(folder: Path, overrides: list[str], cfg: DictConfig | dict[str, Any], rerun: str) -> Attempt:
    """What the job with ``overrides`` and config ``cfg`` (resolved) does in ``folder``, under ``rerun``."""
    if check_rerun(rerun) == "all":
        return Attempt("fresh", "rerun=all")
    record = read_record(folder)
    completed = record is not None and record.get("status") == "completed"
    if completed and same_job(record.get("overrides") or [], overrides):
        changed = changed_settings(record, cfg)
        if not changed:
            return Attempt("keep", "completed earlier with the same overrides", record=record)
        log.info("%s: completed earlier with other settings (%s)", folder, ", ".join(changed))
    last = folder / "checkpoints" / "last.ckpt"
    if not last.is_file():
        return Attempt("fresh", "no earlier attempt" if record is None else "no checkpoint to resume")
    try:
        check_resume(last, training_settings(cfg))
    except ConfigError:  # an earlier sweep's job with another grid point left it
        return Attempt("fresh", f"{last} was trained with other settings")
    except DataError as exc:
        return Attempt("fresh", f"{exc}; starting afresh")
    return Attempt("resume", f"resuming from {last}", checkpoint=last)


def changed_settings(record: dict[str, Any], cfg: DictConfig | dict[str, Any]) -> list[str]:
    """The settings a completed job's ``record`` ran with whose values ``cfg`` changes (none: the same
    result). The same overrides can compose other values: a tuned file written since, a changed default."""
    return differing_keys(result_settings(record.get("config") or {}), result_settings(cfg))


def prepare_job(cfg: DictConfig, folder: Path, overrides: list[str]) -> dict[str, Any] | None:
    """Apply :func:`decide` to a sweep job: the completed record to keep, or None to run the job (with
    ``cfg.resume`` set to the checkpoint it resumes from). A ``resume=`` given by the user is kept."""
    if cfg.get("resume") or cfg.get("rerun", "incomplete") not in RERUN_CHOICES:
        return None  # the run's own checks name a bad rerun= (in its metrics.json too)
    attempt = decide(folder, overrides, cfg, cfg.get("rerun", "incomplete"))
    if attempt.action != "fresh" or attempt.reason != "no earlier attempt":
        log.info("%s: %s", folder, attempt.reason)
    if attempt.action == "resume":
        with open_dict(cfg):
            cfg.resume = str(attempt.checkpoint)
    return attempt.record if attempt.action == "keep" else None
