"""Entry point: ``python train.py [overrides]`` or ``python train.py -m key=a,b`` (Hydra multirun)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from deepmf.errors import DeepMFError
from deepmf.training.run import train

log = logging.getLogger("deepmf")


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    hydra_cfg = HydraConfig.get()
    try:
        record = train(cfg, Path(hydra_cfg.runtime.output_dir), list(hydra_cfg.overrides.task))
    except DeepMFError as exc:
        # A user-facing problem (bad file, bad option): say it plainly, without a traceback.
        log.error("%s", exc)
        if hydra_cfg.mode.name == "MULTIRUN":
            return None  # the other jobs of the sweep go on
        sys.exit(1)
    return record["metrics"].get(cfg.selection.monitor)


if __name__ == "__main__":
    main()
