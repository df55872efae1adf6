"""``task=stats``: load and split a dataset, record its statistics (Table 1) in metrics.json; no training."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from deepmf.data.datamodule import InteractionDataModule
from deepmf.io import write_json_atomic
from deepmf.training.run import build

log = logging.getLogger(__name__)


def dataset_statistics(
    cfg: DictConfig, output_dir: Path, overrides: list[str] | None = None
) -> dict[str, Any]:
    """Write ``metrics.json`` with the dataset's users, items, ratings and density (also when it fails).

    The counts are those of the data every model sees (``DatasetInfo``: after duplicate removal and
    the sparse-user policy); a dataset module with its own statistics can extend ``dataset`` here.
    """
    started = time.perf_counter()
    record: dict[str, Any] = {
        "status": "running",
        "task": "stats",
        "model": None,
        "loss": None,
        "seed": cfg.seed,
        "overrides": list(overrides or []),
        "config": OmegaConf.to_container(cfg, resolve=True),
    }
    try:
        datamodule: InteractionDataModule = build(cfg.data)
        datamodule.setup("fit")
        assert datamodule.info is not None
        record |= {"status": "completed", "dataset": datamodule.info.as_dict(), "metrics": {}}
        info = datamodule.info
        print(
            f"{info.name}: {info.users:,} users, {info.items:,} items, {info.ratings:,} ratings, "
            f"density {info.density:.5f}"
        )
    except BaseException as exc:
        record |= {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
        raise
    finally:
        record["wall_time_s"] = round(time.perf_counter() - started, 3)
        write_json_atomic(output_dir / "metrics.json", record)
    return record
