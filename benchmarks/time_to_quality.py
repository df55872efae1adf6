"""Seconds from start until DMF reaches a test HR@10 target on ML-100k (default: DMF-2-nce, 0.60).

    python benchmarks/time_to_quality.py                                   # paper settings
    python benchmarks/time_to_quality.py speed=large_batch                 # a speed option (conf/speed/)
    python benchmarks/time_to_quality.py threads=1

Arguments are train.py overrides (conf/train.yaml). The clock starts before the data is loaded and runs
through training; after every epoch the test HR@10 (sampled, 100 negatives) is computed with the clock
paused and training stops at the first epoch that reaches ``--target``. This uses the test set as a
stopwatch only, never to select a model: it answers "how long until this quality", nothing else.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from deepmf.evaluation.metrics import ranking_metrics
from deepmf.evaluation.ranking import rank_batch
from deepmf.losses import PointwiseLoss
from deepmf.models import ModelContext, build_model
from deepmf.training.module import RecommenderModule

CONF = Path(__file__).resolve().parent.parent / "conf"


class TestStopwatch(pl.Callback):
    """After each training epoch: pause the clock, compute test HR@10, stop once it reaches the target."""

    def __init__(self, datamodule, target: float, started: float) -> None:
        self.datamodule, self.target, self.started = datamodule, target, started
        self.paused = 0.0
        self.rows: list[dict] = []

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        now = time.perf_counter()
        seconds = now - self.started - self.paused  # since start, earlier evaluation pauses excluded
        model = module.model
        with torch.no_grad():
            model.prepare_evaluation()
            ranks = [
                rank_batch(model, b, self.datamodule.n_items)[0] for b in self.datamodule.test_dataloader()
            ]
        hr = ranking_metrics(torch.cat(ranks), [10], "")["hr@10"]
        self.paused += time.perf_counter() - now
        self.rows.append({"epoch": trainer.current_epoch, "seconds": round(seconds, 2), "test_hr@10": hr})
        if hr >= self.target:
            trainer.should_stop = True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target", type=float, default=0.60)
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    started = time.perf_counter()
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        cfg = compose("train", overrides=["logger=none", *args.overrides])
    pl.seed_everything(cfg.seed, verbose=False)
    if cfg.get("threads"):
        torch.set_num_threads(int(cfg.threads))
    datamodule = instantiate(cfg.data)
    datamodule.setup()
    context = ModelContext(
        datamodule.n_users, datamodule.n_items, datamodule.train_matrix(), datamodule.max_rating
    )
    module = RecommenderModule(
        build_model(cfg.model, context),
        PointwiseLoss(cfg.loss.name, cfg.loss.max_rating or datamodule.max_rating),
        cfg.optim.lr,
        [10],
        datamodule.n_items,
    )
    stopwatch = TestStopwatch(datamodule, args.target, started)
    trainer = pl.Trainer(
        accelerator=cfg.trainer.accelerator,
        devices=1,
        max_epochs=args.max_epochs,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=False,
        callbacks=[stopwatch],
    )
    trainer.fit(module, datamodule=datamodule)
    reached = next((row for row in stopwatch.rows if row["test_hr@10"] >= args.target), None)
    print(
        json.dumps(
            {
                "overrides": args.overrides,
                "target": args.target,
                "reached": reached is not None,
                "seconds": reached["seconds"] if reached else None,
                "epochs": stopwatch.rows,
            }
        )
    )


if __name__ == "__main__":
    main()
