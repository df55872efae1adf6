"""What a run's checkpoint records about its settings, so that a resume with other settings is refused.

A resumed run continues the optimisation that its checkpoint holds: resuming with another loss, learning
rate or negative ratio would silently mix two experiments and label the result with the second. Only keys
that do not change what is trained may differ: where files live, logging, the trainer (``max_epochs``
included, so a run can be extended), threads and early-stopping patience.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf

from deepmf.errors import ConfigError
from deepmf.training.checkpoint_io import load_checkpoint

#: Keys (and key prefixes, ending in ".") that a resume may change.
MAY_CHANGE_ON_RESUME = (
    "trainer.",
    "logger.",
    "paths.",
    "resume",
    "report",
    "threads",
    "progress_refresh_rate",
    "selection.patience",
    "data.data_dir",
    "data.cache_dir",
    "data.ratings_path",
)


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """``{"model.layers": 2, ...}`` from a nested dict (lists stay values)."""
    if not isinstance(tree, dict):
        return {prefix.rstrip("."): tree}
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        flat |= flatten(value, f"{prefix}{key}.")
    return flat


def training_settings(cfg: DictConfig) -> dict[str, Any]:
    """The resolved settings that define what a run trains: everything but :data:`MAY_CHANGE_ON_RESUME`."""
    flat = flatten(OmegaConf.to_container(cfg, resolve=True))
    return {
        key: value
        for key, value in flat.items()
        if not any(key == name or key.startswith(name) for name in MAY_CHANGE_ON_RESUME)
    }


class TrainingSettings(pl.Callback):
    """Stores :func:`training_settings` in every checkpoint (restoring them changes nothing)."""

    def __init__(self, cfg: DictConfig) -> None:
        self.settings = training_settings(cfg)

    def state_dict(self) -> dict[str, Any]:
        return {"settings": self.settings}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Nothing to restore: :func:`check_resume_settings` compared them before training."""


def check_resume_settings(cfg: DictConfig, checkpoint_path: str | Path) -> None:
    """Refuse to resume from a checkpoint trained with other settings, naming every key that differs."""
    callbacks = load_checkpoint(checkpoint_path).get("callbacks") or {}
    saved = (callbacks.get(TrainingSettings.__name__) or {}).get("settings")
    if saved is None:
        return  # written before checkpoints recorded their settings: nothing to compare
    current = training_settings(cfg)
    differing = sorted(key for key in saved.keys() | current.keys() if saved.get(key) != current.get(key))
    if differing:
        changes = ", ".join(f"{key}={saved.get(key)!r} there, {current.get(key)!r} here" for key in differing)
        raise ConfigError(
            f"resume={checkpoint_path}: the checkpoint was trained with other settings ({changes}); "
            "resume with the overrides of the run that wrote it (trainer.*, logger.*, paths.* and "
            "selection.patience may change)"
        )
