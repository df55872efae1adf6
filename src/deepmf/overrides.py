"""A job's command-line overrides, compared as what they make the job compute."""

from __future__ import annotations

from collections.abc import Iterable

#: Keys whose overrides change how a job is run, never what it computes: a sweep rerun with
#: ``rerun=all`` or a run resumed with ``resume=<ckpt>`` is the same job as the one before.
HOW_TO_RUN_KEYS = ("rerun", "resume")


def override_key(override: str) -> str:
    """The key of an override: ``model.layers`` from ``model.layers=2``, ``++model.layers=2`` or
    ``~model.layers`` (Hydra's set, force-add and delete forms)."""
    return override.lstrip("+~").partition("=")[0]


def what_job_computes(overrides: Iterable[object]) -> list[str]:
    """The overrides without those of :data:`HOW_TO_RUN_KEYS`, in their order."""
    return [str(o) for o in overrides if override_key(str(o)) not in HOW_TO_RUN_KEYS]


def same_job(first: Iterable[object], second: Iterable[object]) -> bool:
    """Whether two lists of overrides make the same job (the same overrides, but how it is run)."""
    return what_job_computes(first) == what_job_computes(second)
