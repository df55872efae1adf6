"""Experiment loggers chosen by ``logger=wandb|csv|none``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pytorch_lightning.loggers import CSVLogger, Logger, WandbLogger

from deepmf.errors import ConfigError

LOGGERS = ("wandb", "csv", "none")
WANDB_MODES = ("offline", "online", "disabled")


def check_logger_config(config: Any) -> None:
    """Fail on an unknown logger or W&B mode (before any data is read), naming the key."""
    kind = config.get("name", "none")
    if kind not in LOGGERS:
        raise ConfigError(f"logger must be one of {', '.join(LOGGERS)}; got {kind!r}")
    mode = config.get("mode", "offline")
    if kind == "wandb" and mode not in WANDB_MODES:
        raise ConfigError(
            f"logger.mode must be {', '.join(WANDB_MODES[:-1])} or {WANDB_MODES[-1]}, got {mode!r}"
        )


def build_loggers(config: Any, output_dir: Path, run_config: dict[str, Any]) -> list[Logger]:
    """``wandb`` logs offline by default (``wandb sync`` later); ``csv`` writes metrics.csv."""
    check_logger_config(config)
    kind = config.get("name", "none")
    if kind == "none":
        return []
    if kind == "csv":
        return [CSVLogger(save_dir=str(output_dir), name="csv", version="")]
    if kind == "wandb":
        mode = config.get("mode", "offline")
        os.environ.setdefault("WANDB_SILENT", "true")
        return [
            WandbLogger(
                project=config.get("project", "deepmf"),
                entity=config.get("entity"),
                group=config.get("group"),
                name=config.get("run_name"),
                tags=list(config.get("tags") or []),
                save_dir=str(output_dir),
                mode=mode,
                config=run_config,
            )
        ]
    raise AssertionError(f"unreachable: logger {kind!r} passed check_logger_config")


def finish_wandb(exit_code: int = 0, summary: dict[str, Any] | None = None) -> None:
    """Close the W&B run so that each multirun job is its own run; ``summary`` goes into its summary."""
    try:
        import wandb
    except ImportError:  # pragma: no cover - wandb is a dependency
        return
    if wandb.run is not None:
        if summary:
            # The final metrics (validation at the selected epoch, test with its weights), not the
            # last logged values, so the W&B summary matches metrics.json.
            wandb.run.summary.update(summary)
        wandb.finish(exit_code=exit_code)
