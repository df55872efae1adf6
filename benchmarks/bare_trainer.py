"""A Lightning Trainer that only trains: no logger, checkpoints, summary, progress bar or sanity check."""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl


def bare_trainer(accelerator: str, max_epochs: int, **options: Any) -> pl.Trainer:
    """One device, ``max_epochs``, no validation; ``options`` are further ``pl.Trainer`` arguments."""
    return pl.Trainer(
        accelerator=accelerator,
        devices=1,
        max_epochs=max_epochs,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=False,
        **options,
    )
