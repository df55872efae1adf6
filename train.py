"""Entry point: ``python train.py [overrides]`` or ``python train.py -m key=a,b`` (Hydra multirun)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from deepmf.errors import ConfigError, DeepMFError
from deepmf.training.dataset_stats import dataset_statistics
from deepmf.training.rerun import prepare_job
from deepmf.training.run import train

log = logging.getLogger("deepmf")
TASKS = {"train": train, "stats": dataset_statistics}


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    hydra_cfg = HydraConfig.get()
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    try:
        job = TASKS.get(cfg.get("task", "train"))
        if job is None:
            raise ConfigError(f"task must be one of {', '.join(TASKS)}, got {cfg.task!r}")
        output_dir, overrides = Path(hydra_cfg.runtime.output_dir), list(hydra_cfg.overrides.task)
        # A sweep rerun into its folder keeps the jobs that completed and resumes killed ones (rerun=).
        record = prepare_job(cfg, output_dir, overrides) if multirun else None
        record = record or job(cfg, output_dir, overrides)
    except DeepMFError as exc:
        # A user-facing problem (bad file, bad option): say it plainly, without a traceback.
        log.error("%s", exc)
        if multirun:
            return None  # the other jobs of the sweep go on
        sys.exit(1)
    except Exception:
        if not multirun:
            raise
        # metrics.json already says "failed"; the sweep's other jobs and its report go on.
        log.exception("job %s failed", hydra_cfg.job.num)
        return None
    return record["metrics"].get(cfg.selection.monitor)


if __name__ == "__main__":
    main()
