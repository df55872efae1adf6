"""Callbacks that record what a person reads after a run: per-epoch metrics and timings."""

from __future__ import annotations

import time
from typing import Any

import pytorch_lightning as pl


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
