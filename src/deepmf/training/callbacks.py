"""Callbacks of a run: per-epoch metrics and timings, per-user ranks, and the checkpoint a resume starts
from."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

from deepmf.evaluation.per_user import StageRanks


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


class PerUserRanks(pl.Callback):
    """The per-user ranks of every validation epoch and of the test, for ``per_user.npz``.

    Its state (the validation ranks by epoch, as int32 tensors: a few KB per epoch on ML-1M) travels in
    the checkpoints, so a resumed run still knows the ranks of a best epoch trained before the resume.
    """

    def __init__(self) -> None:
        self.val_by_epoch: dict[int, dict[str, torch.Tensor]] = {}
        self.test: dict[str, torch.Tensor] | None = None

    # The *_end hooks: Lightning calls callbacks' *_epoch_end hooks before the module's, which sets the ranks.
    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        ranks = getattr(pl_module, "last_ranks", {}).get("val")
        if ranks is not None and not trainer.sanity_checking and trainer.state.fn == "fit":
            self.val_by_epoch[trainer.current_epoch] = ranks

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.test = getattr(pl_module, "last_ranks", {}).get("test")

    def stages(self, epoch: int | None) -> dict[str, StageRanks]:
        """The validation ranks of ``epoch`` (when known) and the test's."""
        out = {}
        chosen = {"val": self.val_by_epoch.get(epoch) if epoch is not None else None, "test": self.test}
        for stage, ranks in chosen.items():
            if ranks is not None:
                out[stage] = StageRanks(*(ranks[key].numpy() for key in ("users", "sampled", "full")))
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"val_by_epoch": self.val_by_epoch}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        # test(ckpt_path=...) restores callbacks too: keep the epochs trained after that checkpoint's.
        restored = state_dict.get("val_by_epoch", {})
        self.val_by_epoch = {int(epoch): ranks for epoch, ranks in restored.items()} | self.val_by_epoch
