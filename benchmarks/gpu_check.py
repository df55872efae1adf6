"""DMF on a GPU: today's step against the fast path (static shapes, CUDA graphs), at the paper's settings.

    python benchmarks/gpu_check.py steps  [--preset ml1m]          # ms / step and syncs / step, every path
    python benchmarks/gpu_check.py epoch  --path fast|old [--preset ml1m] [--budget-mb N]
                                                                   # one full epoch + evaluation of all users

``bash benchmarks/gpu_check.sh`` runs them in the order that matters (each part in its own process with a
time limit, so one that runs long leaves the others' tables). Paper settings: batch 256, 7 negatives,
towers [512, 64] / [1024, 64], Adam (lr 1e-4), nce loss, synthetic data of ML-1M's size (6,040 x 3,706,
1M ratings) or Amazon-movies' (15k x 90k, 0.9M). Every timing syncs the device before its clock stops.
``GPU_CHECK_TINY=1`` runs the same code on the CPU on small data (a check of this script, no figures):
CUDA-only variants (graph capture) are listed as skipped.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import pytorch_lightning as pl
import torch
from bare_trainer import bare_trainer

from deepmf.data.static_batches import static_epoch
from deepmf.data.synthetic import SyntheticDataModule
from deepmf.losses import PointwiseLoss
from deepmf.models.dmf import DMF
from deepmf.models.static_rows import StaticRows, choose_first_layer
from deepmf.training.fast_path import FastPathSettings, FastRecommenderModule
from deepmf.training.fast_step import FastStep
from deepmf.training.host_reads import count_cuda_syncs, count_host_reads
from deepmf.training.module import OPTIMIZERS, RecommenderModule

BATCH = 256
LR = 1e-4
TINY = os.environ.get("GPU_CHECK_TINY") == "1"
GPU = torch.cuda.is_available() and not TINY
DEVICE = torch.device("cuda" if GPU else "cpu")
CARD = torch.cuda.get_device_name(0) if GPU else "cpu (GPU_CHECK_TINY=1: a check of the script, not figures)"


def sync() -> None:
    if GPU:
        torch.cuda.synchronize()


def datamodule_for(preset: str) -> SyntheticDataModule:
    if TINY:
        return SyntheticDataModule(preset="small", batch_size=BATCH, cache_dir=None)
    return SyntheticDataModule(preset=preset, batch_size=BATCH, cache_dir=str(Path(".cache/deepmf")))


def new_model(datamodule: SyntheticDataModule) -> DMF:
    torch.manual_seed(0)
    return DMF(datamodule.train_matrix(), [512, 64], [1024, 64], 0.01)


def sync_counter():
    """CUDA syncs on a GPU; on the CPU the host reads the same calls would make."""
    return count_cuda_syncs() if GPU else count_host_reads()


# --- steps ----------------------------------------------------------------------------------------


def todays_step(model: DMF, loss_fn: PointwiseLoss, epoch) -> Callable[[int], None]:
    """What ``RecommenderModule.training_step`` runs per batch (without Lightning)."""
    optimizer = OPTIMIZERS["adam"](model.parameters(), LR)

    def step(k: int) -> None:
        loss = loss_fn(model(epoch.users[k], epoch.items[k]), epoch.ratings[k])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def fast_step(model: DMF, loss_fn: PointwiseLoss, form: str, compiled: bool, graph: bool) -> FastStep:
    optimizer = OPTIMIZERS["adam"](model.parameters(), LR)
    return FastStep(
        model, StaticRows.build(form, model), loss_fn, optimizer, compiled=compiled, cuda_graph=graph
    )


def time_steps(step: Callable[[int], None], n_steps: int, warmup: int, n_batches: int) -> tuple[float, float]:
    """(median ms per step over 3 runs of ``n_steps``, seconds of the ``warmup`` steps)."""
    sync()
    started = time.perf_counter()
    for k in range(warmup):
        step(k % n_batches)
    sync()
    warmup_s = time.perf_counter() - started
    runs = []
    for r in range(3):
        sync()
        started = time.perf_counter()
        for k in range(n_steps):
            step((warmup + r * n_steps + k) % n_batches)
        sync()
        runs.append(1000 * (time.perf_counter() - started) / n_steps)
    return statistics.median(runs), warmup_s


def steps_table(preset: str, n_steps: int, sync_steps: int, compile_forms: tuple[str, ...]) -> None:
    datamodule = datamodule_for(preset)
    datamodule.setup()
    loss_fn = PointwiseLoss("nce", datamodule.max_rating)
    pairs = datamodule.pair_batches()
    users, items, ratings = (t.to(DEVICE) for t in pairs.epoch_pairs(0))
    epoch = static_epoch(users, items, ratings, BATCH)
    base = new_model(datamodule).to(DEVICE)
    rows_per_epoch = epoch.n_steps
    variants: list[tuple[str, bool, Callable[[DMF], Callable[[int], None]]]] = [
        ("today's step (unique + ragged bags, fused Adam)", False, lambda m: todays_step(m, loss_fn, epoch))
    ]
    # Compiled variants last: their compilation is the slow part, and a part cut off by its time limit
    # keeps the rows printed before.
    ways = [(form, False, graph) for form in ("dense", "sparse_padded") for graph in (False, True)]
    ways += [(form, True, graph) for form in compile_forms for graph in (False, True)]
    for form, compiled, graph in ways:
        label = f"fast, {form}, {'compiled' if compiled else 'eager'}{' + CUDA graph' if graph else ''}"

        def make(m: DMF, form=form, compiled=compiled, graph=graph) -> Callable[[int], None]:
            fast = fast_step(m, loss_fn, form, compiled, graph)
            return lambda k: fast.step(epoch.users[k], epoch.items[k], epoch.ratings[k], epoch.weights[k])

        variants.append((label, graph, make))
    print(f"\n### Training steps: {CARD}, synthetic-{preset if not TINY else 'small'}, {len(users):,} pairs")
    print(
        f"\n| path | ms / step (median of 3 x {n_steps}) | projected epoch s | syncs / step | warm-up s "
        "(compile, capture) | peak GB |"
    )
    print("|---|---|---|---|---|---|")
    for label, needs_cuda, make in variants:
        if needs_cuda and not GPU:
            print(f"| {label} | skipped (CUDA only) | | | | |")
            continue
        if GPU:
            torch.cuda.reset_peak_memory_stats()
        try:
            step = make(copy.deepcopy(base))
            ms, warmup_s = time_steps(step, n_steps, warmup=5, n_batches=rows_per_epoch)
            with sync_counter() as syncs:
                for k in range(sync_steps):
                    step(k)
                sync()
        except Exception as exc:  # one variant failing must not hide the others' figures
            print(f"| {label} | failed: {type(exc).__name__}: {str(exc)[:200]} | | | | |")
            continue
        peak = torch.cuda.max_memory_allocated() / 1e9 if GPU else float("nan")
        where = ", ".join(f"{w} x{n}" for w, n in syncs.most_common(3))
        print(
            f"| {label} | {ms:.3f} | {ms * rows_per_epoch / 1e3:.1f} | "
            f"{sum(syncs.values()) / sync_steps:.1f}{f' ({where})' if where else ''} | {warmup_s:.1f} "
            f"| {peak:.2f} |"
        )


# --- epoch ----------------------------------------------------------------------------------------


class SyncedEpochTimer(pl.Callback):
    """Training seconds per epoch, the device synced at both ends (validation excluded: none runs)."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        sync()
        self._started = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        sync()
        self.seconds.append(time.perf_counter() - self._started)


def epoch_row(preset: str, path: str, budget_mb: float, steps_per_call: int) -> None:
    started = time.perf_counter()
    datamodule = datamodule_for(preset)
    datamodule.setup()
    data_s = time.perf_counter() - started
    model = new_model(datamodule)
    loss_fn = PointwiseLoss("nce", datamodule.max_rating)
    if GPU:
        torch.cuda.reset_peak_memory_stats()
    form = "-"
    if path == "fast":
        settings = FastPathSettings(
            compile="cuda_graph" if GPU else "false",
            steps_per_call=steps_per_call,
            first_layer="auto" if GPU else "dense",
            dense_budget_mb=budget_mb,
        )
        module: RecommenderModule = FastRecommenderModule(
            model, loss_fn, LR, [10], datamodule.n_items, settings
        )
        datamodule.steps_per_call = steps_per_call
        form = choose_first_layer(settings.first_layer, model, DEVICE, settings.compile != "false", budget_mb)
    else:
        module = RecommenderModule(model, loss_fn, LR, [10], datamodule.n_items)
    timer = SyncedEpochTimer()
    trainer = bare_trainer("gpu" if GPU else "cpu", max_epochs=1, callbacks=[timer])
    trainer.fit(module, datamodule=datamodule)
    epoch_s = timer.seconds[0]
    n_steps = len(datamodule.pair_batches())
    train_peak = torch.cuda.max_memory_allocated() / 1e9 if GPU else float("nan")
    evaluations = []
    for _ in range(3):  # the first includes one-off CUDA work; report the median
        sync()
        started = time.perf_counter()
        trainer.test(module, datamodule=datamodule, verbose=False)
        sync()
        evaluations.append(time.perf_counter() - started)
    metrics = module.last_metrics
    print(
        "\n| card | data | path | first layer | steps | epoch s | ms / step "
        "| eval s (all users, sampled + full; 3 runs) | peak GB (train) | data s "
        "| test HR@10 / full HR@10 after 1 epoch |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    name = f"synthetic-{preset if not TINY else 'small'}"
    hr, full_hr = metrics.get("test/hr@10", float("nan")), metrics.get("test/full_hr@10", float("nan"))
    print(
        f"| {CARD} | {name} ({datamodule.n_users:,} x {datamodule.n_items:,},"
        f" {datamodule.pair_batches().n_pairs:,} pairs) | {path} | {form} | {n_steps:,} | {epoch_s:.1f} | "
        f"{1000 * epoch_s / n_steps:.3f} | {statistics.median(evaluations):.2f} "
        f"({', '.join(f'{s:.2f}' for s in evaluations)}) | {train_peak:.2f} | {data_s:.1f} | "
        f"{hr:.4f} / {full_hr:.4f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("part", choices=("steps", "epoch"))
    parser.add_argument("--preset", default="ml1m")
    parser.add_argument("--path", choices=("fast", "old"), default="fast")
    parser.add_argument("--steps", type=int, default=20 if TINY else 200)
    parser.add_argument(
        "--compile-forms",
        default="dense",
        help="first-layer forms also timed compiled (comma-separated; none)",
    )
    parser.add_argument("--sync-steps", type=int, default=5 if TINY else 20)
    parser.add_argument("--budget-mb", type=float, default=4096)
    parser.add_argument("--steps-per-call", type=int, default=32)
    args = parser.parse_args()
    if not GPU and not TINY:
        raise SystemExit(
            "no CUDA device visible to torch (set GPU_CHECK_TINY=1 to check this script on the CPU)"
        )
    if args.part == "steps":
        forms = tuple(f for f in args.compile_forms.split(",") if f and f != "none")
        steps_table(args.preset, args.steps, args.sync_steps, forms)
    else:
        epoch_row(args.preset, args.path, args.budget_mb, args.steps_per_call)


if __name__ == "__main__":
    main()
