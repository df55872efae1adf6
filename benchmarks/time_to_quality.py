"""Seconds from start until DMF reaches a test HR@10 target on ML-100k (default: DMF-2-nce, 0.60).

    python benchmarks/time_to_quality.py                                    # paper settings
    python benchmarks/time_to_quality.py speed=paper speed=large_batch      # compare configurations
    python benchmarks/time_to_quality.py "speed=large_batch threads=1" --out docs/benchmarks/ttq.md

Each positional argument is one configuration: train.py overrides (conf/train.yaml) separated by spaces.
Configurations run one after another, each in a fresh process, and a markdown table is printed (and
written to ``--out``), headed by the command, the machine and its load. The clock starts before the data
is loaded and runs through training; after every epoch the test HR@10 (sampled, 100 negatives) is computed
with the clock paused, and training stops at the first epoch that reaches ``--target``. This uses the test
set as a stopwatch only, never to select a model: it answers "how long until this quality", nothing else.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "conf"


def measure(overrides: list[str], target: float, max_epochs: int) -> dict:
    """Train one configuration in this process until test HR@10 >= target (or max_epochs)."""
    started = time.perf_counter()
    import pytorch_lightning as pl
    import torch
    from bare_trainer import bare_trainer
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    from deepmf.evaluation.metrics import ranking_metrics
    from deepmf.evaluation.ranking import rank_batch
    from deepmf.losses import PointwiseLoss
    from deepmf.models import ModelContext, build_model
    from deepmf.training.module import RecommenderModule

    class TestStopwatch(pl.Callback):
        """After each epoch: pause the clock, compute test HR@10, stop once it reaches the target."""

        def __init__(self, datamodule) -> None:
            self.datamodule, self.paused, self.rows, self.epoch_started = datamodule, 0.0, [], 0.0

        def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
            self.epoch_started = time.perf_counter()

        def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
            now = time.perf_counter()
            seconds = now - started - self.paused  # since start, earlier evaluation pauses excluded
            with torch.no_grad():
                module.model.prepare_evaluation()
                ranks = [
                    rank_batch(module.model, batch, self.datamodule.n_items)[0]
                    for batch in self.datamodule.test_dataloader()
                ]
            hr = ranking_metrics(torch.cat(ranks), [10], "")["hr@10"]
            self.paused += time.perf_counter() - now
            train_s = round(now - self.epoch_started, 2)
            self.rows.append(
                {"epoch": trainer.current_epoch, "seconds": round(seconds, 1), "train_s": train_s, "hr": hr}
            )
            if hr >= target:
                trainer.should_stop = True

    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        cfg = compose("train", overrides=["logger=none", *overrides])
    pl.seed_everything(cfg.seed, verbose=False)
    if cfg.get("threads"):
        torch.set_num_threads(int(cfg.threads))
    datamodule = instantiate(cfg.data)
    datamodule.setup()
    context = ModelContext(
        datamodule.n_users, datamodule.n_items, datamodule.train_matrix(), datamodule.max_rating
    )
    loss = PointwiseLoss(cfg.loss.name, cfg.loss.max_rating or datamodule.max_rating)
    module = RecommenderModule(build_model(cfg.model, context), loss, cfg.optim.lr, [10], datamodule.n_items)
    stopwatch = TestStopwatch(datamodule)
    trainer = bare_trainer(cfg.trainer.accelerator, max_epochs, callbacks=[stopwatch])
    trainer.fit(module, datamodule=datamodule)
    reached = next((row for row in stopwatch.rows if row["hr"] >= target), None)
    return {
        "overrides": overrides,
        "batch_size": cfg.data.batch_size,
        "lr": cfg.optim.lr,
        "reached": reached,
        "epochs": stopwatch.rows,
    }


def run_in_subprocess(overrides: list[str], target: float, max_epochs: int) -> dict:
    spec = json.dumps({"overrides": overrides, "target": target, "max_epochs": max_epochs})
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    done = subprocess.run(
        [sys.executable, __file__, "--worker", spec], capture_output=True, text=True, env=env, cwd=ROOT
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
        return {"overrides": overrides, "failed": f"exit {done.returncode}: {tail}"}
    return json.loads(lines[-1])


def markdown(results: list[dict], target: float) -> list[str]:
    lines = [
        f"| configuration | batch | lr | seconds to test HR@10 >= {target} | epoch reached | "
        "training seconds per epoch (median) | test HR@10 by epoch |",
        "|---|---|---|---|---|---|---|",
    ]
    for result in results:
        name = " ".join(result["overrides"]) or "(defaults)"
        if "failed" in result:
            lines.append(f"| {name} | | | failed: {result['failed']} | | | |")
            continue
        epochs, reached = result["epochs"], result["reached"]
        per_epoch = statistics.median(row["train_s"] for row in epochs)
        curve = ", ".join(f"{row['hr']:.3f}" for row in epochs)
        when = f"{reached['seconds']:.0f}" if reached else f"not reached in {len(epochs)} epochs"
        epoch = str(reached["epoch"] + 1) if reached else ""
        lines.append(
            f"| {name} | {result['batch_size']} | {result['lr']:g} | {when} | {epoch} | "
            f"{per_epoch:.1f} | {curve} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("configurations", nargs="*", help='e.g. "speed=large_batch threads=1"')
    parser.add_argument("--target", type=float, default=0.60)
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument("--out", type=Path, help="also write the markdown table here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        spec = json.loads(args.worker)
        print(json.dumps(measure(spec["overrides"], spec["target"], spec["max_epochs"])))
        return
    configurations = [text.split() for text in args.configurations] or [[]]
    results = [run_in_subprocess(c, args.target, args.max_epochs) for c in configurations]
    lines = markdown(results, args.target)
    print("\n".join(lines))
    if args.out:
        from provenance import write_report

        write_report(args.out, lines)


if __name__ == "__main__":
    main()
