"""Component models a run trains before its own (e.g. GMF and MLP for NeuMF-p), each a full run."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from deepmf.models.base import model_spec

log = logging.getLogger(__name__)

TrainFn = Callable[[DictConfig, Path, list[str] | None], dict[str, Any]]


def train_components(
    cfg: DictConfig, output_dir: Path, train: TrainFn
) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
    """Train every component the model asks for; return their best weights and their run records.

    A component's config is the run's config with ``model`` replaced and other keys patched by the
    overrides of ``ModelSpec.components``. It writes its own ``metrics.json`` under
    ``<output_dir>/pretrain/<name>``, and its tested weights are its validation-selected checkpoint.
    """
    weights: dict[str, dict[str, torch.Tensor]] = {}
    records: dict[str, Any] = {}
    for name, overrides in model_spec(cfg.model).components(cfg.model).items():
        overrides = dict(overrides)
        component = cfg.copy()
        component.model = OmegaConf.create(overrides.pop("model"))
        component = OmegaConf.merge(component, overrides)
        # The run's resume= names its own checkpoint, never a component's: a resumed run retrains its
        # components from scratch (seeded, so to the same weights).
        component.resume = None
        run_dir = output_dir / "pretrain" / name
        log.info("training component %s in %s", name, run_dir)
        record = train(component, run_dir, [f"component={name}"])
        checkpoint = torch.load(record["best_checkpoint"], map_location="cpu", weights_only=True)
        weights[name] = {key.removeprefix("model."): value for key, value in checkpoint["state_dict"].items()}
        records[name] = {
            "dir": str(run_dir),
            "best_epoch": record["best_epoch"],
            "wall_time_s": record["wall_time_s"],
            "metrics": record["metrics"],
        }
    return weights, records
