"""Today's DMF training step against the fast path's step, eager and compiled, on this CPU.

    python benchmarks/compiled_step.py --threads 2 [--out docs/benchmarks/compiled_step.md]

On ML-100k (the real file when ``DEEPMF_DATA_DIR`` holds ``ml-100k/u.data``, else synthetic data of its
size: 943 x 1,682, 100k ratings) at the paper's settings (batch 256, 7 negatives, towers [512, 64] /
[1024, 64], Adam), in one process and in rounds whose order rotates, it times ms per optimiser step of:
today's step (``model(users, items)``, the mean nce loss, ``backward``, fused Adam: what
``RecommenderModule.training_step`` runs), and :class:`deepmf.training.fast_step.FastStep` with each
first-layer form, eager and through ``torch.compile(fullgraph=True)`` (compilation timed apart). Every
variant trains its own copy of the same model on the same batches.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from bench import DATA_DIR, build_datamodule
from provenance import write_report

from deepmf.data.static_batches import static_epoch
from deepmf.data.synthetic import SyntheticDataModule
from deepmf.losses import PointwiseLoss
from deepmf.models.dmf import DMF
from deepmf.models.static_rows import StaticRows
from deepmf.training.fast_step import FastStep
from deepmf.training.module import OPTIMIZERS

BATCH = 256
WIDTHS = ([512, 64], [1024, 64], 0.01)
#: (label, first-layer form, compiled) of the fast-path variants.
FAST_VARIANTS = (
    ("fast step, bag first layer, eager", "bag", False),
    ("fast step, dense rows, eager", "dense", False),
    ("fast step, padded sparse rows, eager", "sparse_padded", False),
    ("fast step, dense rows, torch.compile(fullgraph=True)", "dense", True),
    ("fast step, padded sparse rows, torch.compile(fullgraph=True)", "sparse_padded", True),
)
TODAY = "today's step (model(users, items), backward, fused Adam)"


def ml100k_datamodule():
    """Real ML-100k if the data folder has it, else synthetic data of its size."""
    if (DATA_DIR / "ml-100k" / "u.data").is_file():
        return build_datamodule("ml100k", BATCH), "ml100k"
    datamodule = SyntheticDataModule(
        preset="small", n_users=943, n_items=1_682, n_ratings=100_000, batch_size=BATCH, cache_dir=None
    )
    return datamodule, "synthetic ML-100k size (943 x 1,682, 100k ratings)"


def todays_steps(model: DMF, loss_fn: PointwiseLoss, batches: list) -> Callable[[], None]:
    optimizer = OPTIMIZERS["adam"](model.parameters(), 1e-4)

    def run() -> None:
        for users, items, ratings in batches:
            loss = loss_fn(model(users, items), ratings)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    return run


def fast_steps(fast: FastStep, epoch) -> Callable[[], None]:
    return lambda: fast.steps(epoch.users, epoch.items, epoch.ratings, epoch.weights)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=60, help="steps timed per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    datamodule, dataset = ml100k_datamodule()
    datamodule.setup()
    pairs = datamodule.pair_batches()
    users, items, ratings = pairs.epoch_pairs(0)
    n = BATCH * args.steps
    batches = [
        (users[s : s + BATCH], items[s : s + BATCH], ratings[s : s + BATCH]) for s in range(0, n, BATCH)
    ]
    epoch = static_epoch(users[:n], items[:n], ratings[:n], BATCH)
    loss_fn = PointwiseLoss("nce", datamodule.max_rating)
    torch.manual_seed(0)
    model = DMF(datamodule.train_matrix(), *WIDTHS)

    variants: dict[str, Callable[[], None]] = {TODAY: todays_steps(copy.deepcopy(model), loss_fn, batches)}
    compile_s: dict[str, float] = {}
    for label, form, compiled in FAST_VARIANTS:
        copy_ = copy.deepcopy(model)
        optimizer = OPTIMIZERS["adam"](copy_.parameters(), 1e-4)
        fast = FastStep(copy_, StaticRows.build(form, copy_), loss_fn, optimizer, compiled=compiled)
        started = time.perf_counter()
        fast.step(epoch.users[0], epoch.items[0], epoch.ratings[0], epoch.weights[0])  # compiles if asked
        if compiled:
            compile_s[label] = time.perf_counter() - started
        variants[label] = fast_steps(fast, epoch)

    samples: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for round_ in range(args.rounds):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            started = time.perf_counter()
            variants[name]()
            samples[name].append(1000 * (time.perf_counter() - started) / args.steps)
    ms = {name: statistics.median(values) for name, values in samples.items()}
    today = ms[TODAY]
    compiled_best = min((name for name in ms if name in compile_s), key=ms.__getitem__)
    ratio = ms[compiled_best] / today
    verdict = (
        f"faster than today's step ({today / ms[compiled_best]:.2f}x): worth making the CPU default"
        if ratio < 1
        else f"{ratio:.2f}x slower than today's step: the CPU default stays today's step "
        "(`fast_path.enabled=auto` is off on CPU)"
    )
    lines = [
        "| step | ms/step (median) | fastest - slowest round | / today's | compile s |",
        "|---|---|---|---|---|",
        *(
            f"| {name} | {value:.2f} | {min(samples[name]):.2f} - {max(samples[name]):.2f} | "
            f"{value / today:.2f} | {f'{compile_s[name]:.1f}' if name in compile_s else ''} |"
            for name, value in ms.items()
        ),
        "",
        f"- {dataset}, {args.threads} threads, {args.steps} steps of batch {BATCH} per round, median of "
        f"{args.rounds} rounds in rotating order; every step is one mini-batch with its own Adam update.",
        f"- The fastest compiled step ({compiled_best}) is {verdict}.",
    ]
    print("\n".join(lines))
    if args.out:
        write_report(args.out, lines)


if __name__ == "__main__":
    main()
