"""What a run's checkpoint records about its settings, so that a resume with other settings is refused.

A resumed run continues the optimisation that its checkpoint holds: resuming with another loss, learning
rate or negative ratio would silently mix two experiments and label the result with the second. Only keys
that do not change what is trained may differ: where files live (the data itself is compared by its
checksum instead), logging, evaluation cut-offs, where and how long the trainer runs (``max_epochs``
included, so a run can be extended), threads and early-stopping patience. A key that only one side knows
(a config key added or removed since the checkpoint was written) is not compared.
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
    "logger.",
    "paths.",
    "eval.",
    "resume",
    "rerun",
    "report",
    "threads",
    "progress_refresh_rate",
    "selection.patience",
    "data.data_dir",
    "data.cache_dir",
    "data.ratings_path",
    "data.dir",
    "data.path",
    "model.first_layer_block",  # a memory layout: checkpoints hold W1 as the matrix, moments are re-blocked
    "trainer.max_epochs",
    "trainer.accelerator",
    "trainer.devices",
    "trainer.log_every_n_steps",
    "trainer.enable_model_summary",
    "trainer.enable_progress_bar",
    "trainer.num_sanity_val_steps",
    "fast_path.",  # how each step is computed (the same model, batches and Adam updates), not what
    "tuned.",  # every tuned file of the dataset: the values a method takes from one are compared resolved
)
#: Keys a resume may change but a kept result may not: another epoch budget, patience or cut-off is
#: another result (a completed job asked with them is resumed or run again, see deepmf.training.rerun).
RESULT_KEYS = ("trainer.max_epochs", "selection.patience", "eval.")
#: The checksum of the rating file a run trained on, stored beside the settings.
DATASET_KEY = "dataset.sha256"


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """``{"model.layers": 2, ...}`` from a nested dict (lists stay values)."""
    if not isinstance(tree, dict):
        return {prefix.rstrip("."): tree}
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        flat |= flatten(value, f"{prefix}{key}.")
    return flat


def training_settings(cfg: DictConfig | dict[str, Any], keep: tuple[str, ...] = ()) -> dict[str, Any]:
    """The resolved settings that define what a run trains: everything but :data:`MAY_CHANGE_ON_RESUME`
    (save the keys of ``keep``), from the run's config or the resolved one its ``metrics.json`` holds."""
    tree = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg
    return {
        key: value
        for key, value in flatten(tree).items()
        if matches(key, keep) or not matches(key, MAY_CHANGE_ON_RESUME)
    }


def result_settings(cfg: DictConfig | dict[str, Any]) -> dict[str, Any]:
    """What defines a completed run's result: :func:`training_settings` and :data:`RESULT_KEYS`."""
    return training_settings(cfg, keep=RESULT_KEYS)


def differing_keys(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The keys both know whose values differ (a key added or removed since ``saved`` is not compared)."""
    return sorted(key for key in saved.keys() & current.keys() if saved[key] != current[key])


def matches(key: str, names: tuple[str, ...]) -> bool:
    return any(key == name or key.startswith(name) for name in names)


class TrainingSettings(pl.Callback):
    """Stores :func:`training_settings` and the data's checksum in every checkpoint (nothing to restore)."""

    def __init__(self, cfg: DictConfig, dataset_sha256: str) -> None:
        self.settings = training_settings(cfg) | {DATASET_KEY: dataset_sha256}

    def state_dict(self) -> dict[str, Any]:
        return {"settings": self.settings}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Nothing to restore: :func:`check_resume` compared them before training."""


def saved_settings(checkpoint_path: str | Path) -> dict[str, Any] | None:
    """The settings a checkpoint recorded; None for checkpoints written before they recorded any."""
    # Mapped, not read: a resume checks the settings twice (before and after the data) and Lightning
    # then reads the whole checkpoint once.
    callbacks = load_checkpoint(checkpoint_path, mmap=True).get("callbacks") or {}
    return (callbacks.get(TrainingSettings.__name__) or {}).get("settings")


def check_resume(checkpoint_path: str | Path, current: dict[str, Any]) -> None:
    """Refuse to resume from a checkpoint trained with other settings, naming every key that differs.

    ``current`` holds what is known so far: :func:`training_settings` before any data is read, the data's
    checksum (:data:`DATASET_KEY`) once it is.
    """
    saved = saved_settings(checkpoint_path)
    if saved is None:
        return
    differing = differing_keys(saved, current)
    if differing:
        changes = ", ".join(f"{key}={saved[key]!r} there, {current[key]!r} here" for key in differing)
        raise ConfigError(
            f"resume={checkpoint_path}: the checkpoint was trained with other settings ({changes}); "
            "resume with the overrides and the data of the run that wrote it (where files live, logging, "
            "eval.ks, trainer.max_epochs, selection.patience and model.first_layer_block may change)"
        )
