"""Composing the real train config, running ``deepmf.training.run.train`` in-process (no subprocess), and
evaluating a model or a run's checkpoint outside the trainer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from deepmf.data.datamodule import InteractionDataModule
from deepmf.evaluation.metrics import ranking_metrics
from deepmf.evaluation.ranking import rank_batch
from deepmf.models import ModelContext, Recommender, build_model
from deepmf.training.run import train

CONF = Path(__file__).resolve().parents[1] / "conf"
#: A small DMF and a small evaluation, so that a 3-epoch run takes about a second.
TINY = (
    "logger=none",
    "model.factors=8",
    "data.eval_negatives=20",
    "data.batch_size=1024",
    "optim.lr=0.003",
    "progress_refresh_rate=1000",
)


def config(data_dir: Path, cache_dir: Path, *overrides: str) -> DictConfig:
    """The config ``python train.py <overrides>`` would run, with data and cache under the test's folders."""
    dmf = not any(o.startswith("model=") and o != "model=dmf" for o in overrides)
    small = (*TINY, *(("model.user_first_width=32", "model.item_first_width=32") if dmf else ()))
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(
            "train",
            overrides=[f"paths.data_dir={data_dir}", f"paths.cache_dir={cache_dir}", *small, *overrides],
        )


def run(data_dir: Path, out: Path, *overrides: str) -> dict[str, Any]:
    """Train in-process into ``out`` and return the metrics.json record."""
    return train(config(data_dir, out.parent / "cache", *overrides), out, list(overrides))


def evaluate(model: Recommender, datamodule: InteractionDataModule, stage: str) -> dict[str, float]:
    """``{stage}/hr@k``, ``ndcg@k`` and their ``full_`` versions (k = 5, 10), computed without a trainer."""
    model.prepare_evaluation()
    loader = datamodule.test_dataloader() if stage == "test" else datamodule.val_dataloader()
    ranks = [rank_batch(model, batch, datamodule.n_items) for batch in loader]
    metrics = ranking_metrics(torch.cat([r[0] for r in ranks]), [5, 10], f"{stage}/")
    return metrics | ranking_metrics(torch.cat([r[1] for r in ranks]), [5, 10], f"{stage}/full_")


def evaluate_checkpoint(record: dict[str, Any], checkpoint: Path, stage: str) -> dict[str, float]:
    """Rebuild the run's data and model from its record, load ``checkpoint``'s weights and evaluate."""
    cfg = OmegaConf.create(record["config"])
    datamodule: InteractionDataModule = instantiate(cfg.data)
    datamodule.setup()
    context = ModelContext(
        datamodule.n_users, datamodule.n_items, datamodule.train_matrix(), datamodule.max_rating
    )
    model = build_model(cfg.model, context)
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    model.load_state_dict({key.removeprefix("model."): value for key, value in state.items()})
    model.eval()
    return evaluate(model, datamodule, stage)
