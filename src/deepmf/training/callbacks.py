"""Callbacks of a run: per-epoch metrics and timings, and the checkpoint a resume starts from."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import ModelCheckpoint


class EpochHistory(pl.Callback):
    """One row per epoch: train loss, validation metrics, and seconds of training (validation excluded)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self._epoch_started = 0.0
        self._val_started = 0.0
        self._val_seconds = 0.0

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._epoch_started = time.perf_counter()
        self._val_seconds = 0.0

    def on_validation_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._val_started = time.perf_counter()

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._val_seconds += time.perf_counter() - self._val_started

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # In Lightning 2.x the epoch's validation has already run when this hook is called.
        seconds = time.perf_counter() - self._epoch_started - self._val_seconds
        row: dict[str, Any] = {"epoch": trainer.current_epoch, "train_seconds": round(seconds, 3)}
        for key, value in trainer.callback_metrics.items():
            if key.startswith(("train/", "val/")):
                row[key] = float(value)
        self.rows.append(row)

    def state_dict(self) -> dict[str, Any]:
        return {"rows": self.rows}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        # A resumed fit restores into an empty history. test(ckpt_path="best") restores callbacks too:
        # that must not cut off the epochs trained after the best one (Figure 2 plots every epoch).
        if not self.rows:
            self.rows = list(state_dict.get("rows", []))


class LastEpochCheckpoint(ModelCheckpoint):
    """``last.ckpt``, rewritten at the end of every training epoch (what ``resume=`` continues from).

    Lightning's own ``save_last=True`` (2.6) writes it only in epochs that also write a monitored
    checkpoint: after the best epoch it went stale, and a resume retrained every epoch after the best.
    Like every ``ModelCheckpoint``, it runs after the module's epoch-end hook (a diverged epoch is never
    saved) and after :class:`EpochHistory`, so the file carries the whole history.
    """

    def __init__(self, dirpath: str | Path) -> None:
        super().__init__(
            dirpath=dirpath,
            filename="last",
            monitor=None,
            save_top_k=1,
            save_on_train_epoch_end=True,
            enable_version_counter=False,
        )

    @property
    def state_key(self) -> str:
        # Distinct from an unmonitored best-checkpoint callback's key, so a resume restores each its own.
        return type(self).__name__
