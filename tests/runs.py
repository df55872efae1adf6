"""Composing the real train config and running ``deepmf.training.run.train`` in-process (no subprocess)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

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
