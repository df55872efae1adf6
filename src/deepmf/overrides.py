"""A job's command-line overrides, compared as what they make the job compute."""

from __future__ import annotations

from collections.abc import Iterable

#: Keys (and prefixes, ending in ".") whose overrides change how a job is run, never what it computes: a
#: sweep rerun with ``rerun=all``, a run resumed with ``resume=<ckpt>``, with other threads, logging or
#: folders is the same job as the one before. (A kept job's resolved settings are compared too:
#: ``deepmf.training.rerun``.)
HOW_TO_RUN_KEYS = ("rerun", "resume", "threads", "logger", "logger.", "paths.", "progress_refresh_rate")


def override_key(override: str) -> str:
    """The key of an override: ``model.layers`` from ``model.layers=2``, ``++model.layers=2`` or
    ``~model.layers`` (Hydra's set, force-add and delete forms)."""
    return override.lstrip("+~").partition("=")[0]


def what_job_computes(overrides: Iterable[object]) -> list[str]:
    """The overrides without those of :data:`HOW_TO_RUN_KEYS`, in their order."""
    return [str(o) for o in overrides if not how_to_run(override_key(str(o)))]


def how_to_run(key: str) -> bool:
    return any(key == name or (name.endswith(".") and key.startswith(name)) for name in HOW_TO_RUN_KEYS)


def same_job(first: Iterable[object], second: Iterable[object]) -> bool:
    """Whether two lists of overrides make the same job: the same overrides but how it is run, in any
    order (Hydra applies config-group choices before values, wherever they stand on the line)."""
    return sorted(what_job_computes(first)) == sorted(what_job_computes(second))
