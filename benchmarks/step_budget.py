"""Where one DMF training step's time goes, and the least it could cost on this machine.

    python benchmarks/step_budget.py --threads 2 [--dataset ml100k] [--out docs/benchmarks/step_budget.md]

On the real batches of the paper's settings (batch 256, 7 negatives, towers [512, 64] / [1024, 64]), in
one process and in rounds whose order rotates (medians over rounds), it times:

- the library's whole step (plain loop: forward, backward, fused Adam) and the dense-row reference's;
- fused Adam over every parameter (the paper's dense Adam updates all first-layer weights every step);
- the first two layers of both towers, forward and weight gradients, as the library runs them (blocked
  embedding-bags, the batch's transposed bags, the second layer's GEMMs); the rest of the step (batch
  building, element-wise ops, the loss, Python) is the whole step minus these and Adam;
- two parts of that no exact implementation can avoid: the second layers' three GEMMs per tower, and the
  first layers' multiply-adds at the fastest embedding-bag rate measured here (the same bags, in one call,
  every copy reading one weight narrow enough to stay in cache): what a perfect kernel could approach.

It then compares the *floor* (Adam + second-layer GEMMs + ideal first layers, with batch building, every
element-wise op, Python and Lightning free) with the step time that 20 s per epoch and 5x the dense
reference would need.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from bench import build_datamodule
from dense_reference import DenseRowDMF
from first_layer import median_ms
from provenance import write_report

from deepmf.losses import PointwiseLoss
from deepmf.models.dmf import DMF
from deepmf.models.sparse_layers import bags_matmul, sparse_rows_two_layers
from deepmf.models.weight_blocks import repeat_bags

WIDTHS = ([512, 64], [1024, 64], 0.01)
IDEAL_WIDTHS = (64, 128, 256)


def train_steps(model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss_fn, batches) -> Callable:
    def run() -> None:
        for users, items, ratings in batches:
            loss = loss_fn(model(users, items), ratings)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    return run


def tower_inputs(model: DMF, batches) -> list[tuple]:
    """Per batch and tower: the bags of its distinct rows, ``W1``'s blocks and ``W2``."""
    inputs = []
    for users, items, _ in batches:
        for rows, ids, tower in (
            (model._rows("user_rows", model.n_items), users, model.user_tower),
            (model._rows("item_rows", model.n_users), items, model.item_tower),
        ):
            bags = rows.gather(torch.unique(ids))
            inputs.append((bags, rows.n_columns, tower.first.detach(), tower.mlp[0].weight.detach()))
    return inputs


def first_two_layers(inputs: list[tuple]) -> Callable:
    """The library's first two layers, forward and weight gradients (what a step runs per tower)."""
    leaves = [(blocks.clone().requires_grad_(), w2.clone().requires_grad_()) for _, _, blocks, w2 in inputs]
    grads = [torch.randn(len(bags[1]), w2.shape[0]) for bags, _, _, w2 in inputs]

    def run() -> None:
        for (bags, _, _, _), (blocks, weight2), grad in zip(inputs, leaves, grads):
            out = sparse_rows_two_layers(*bags, blocks, weight2)
            torch.autograd.grad(out, (blocks, weight2), grad)

    return run


def second_layers(inputs: list[tuple]) -> Callable:
    """The second layer's forward GEMM and its two gradient GEMMs, per tower."""
    shapes = [(torch.randn(len(bags[1]), w2.shape[1]), w2) for bags, _, _, w2 in inputs]
    grads = [torch.randn(hidden.shape[0], w2.shape[0]) for hidden, w2 in shapes]

    def run() -> None:
        for (hidden, weight2), grad in zip(shapes, grads):
            hidden @ weight2.T
            grad @ weight2
            grad.T @ hidden

    return run


def ideal_first_layers_ms(inputs: list[tuple], repeats: int) -> tuple[float, int]:
    """The first layers' multiply-adds (forward + weight gradient) per step at the fastest embedding-bag
    rate on these bags: each tower's bags repeated ``width1 / w`` times over one weight only ``w`` wide
    (same multiply-adds, one call; unlike ``W1``'s blocks every copy reads the same cached table), the
    best ``w`` of ``IDEAL_WIDTHS``; returns (ms per step, that ``w``)."""
    best: tuple[float, int] | None = None
    for width in IDEAL_WIDTHS:
        calls, weights = [], {}  # one weight per tower, as W1 is
        for bags, n_columns, _, weight2 in inputs:
            # A table shift of 0: every copy of the bags reads the same narrow table.
            repeated = repeat_bags(bags, 0, weight2.shape[1] // width)
            calls.append((repeated, weights.setdefault(n_columns, torch.randn(n_columns, width))))
        forward_ms = median_ms(lambda calls=calls: [bags_matmul(b, w) for b, w in calls], repeats, inner=1)
        per_step_ms = 2 * forward_ms / (len(inputs) / 2)
        if best is None or per_step_ms < best[0]:
            best = (per_step_ms, width)
    assert best is not None
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="ml100k")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=100, help="batches timed per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--epoch-target-s", type=float, default=20.0)
    parser.add_argument("--dense-ratio-target", type=float, default=5.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    datamodule = build_datamodule(args.dataset, 256)
    datamodule.setup()
    matrix, loader = datamodule.train_matrix(), datamodule.train_dataloader()
    users, items, ratings = loader.epoch_pairs(0)
    batches = [
        (users[i : i + 256], items[i : i + 256], ratings[i : i + 256])
        for i in range(0, 256 * args.steps, 256)
    ]
    loss_fn = PointwiseLoss("nce", datamodule.max_rating)

    model = DMF(matrix, *WIDTHS)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)
    dense = DenseRowDMF(matrix, *WIDTHS)
    inputs = tower_inputs(model, batches)
    train_steps(model, optimizer, loss_fn, batches[:2])()  # Adam's state exists, every .grad is set

    parts: dict[str, Callable] = {
        "whole step, deepmf (plain loop)": train_steps(model, optimizer, loss_fn, batches),
        "whole step, dense-row reference": train_steps(
            dense, torch.optim.Adam(dense.parameters(), lr=1e-4), loss_fn, batches
        ),
        "fused Adam over all parameters": lambda: [optimizer.step() for _ in batches],
        "second layers: 3 GEMMs per tower": second_layers(inputs),
        "first two layers, forward + weight gradients, as run": first_two_layers(inputs),
    }
    samples: dict[str, list[float]] = {name: [] for name in parts}
    names = list(parts)
    for round_ in range(args.rounds):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            started = time.perf_counter()
            parts[name]()
            samples[name].append(1000 * (time.perf_counter() - started) / len(batches))
    ms = {name: statistics.median(values) for name, values in samples.items()}
    ideal_ms, ideal_width = ideal_first_layers_ms(inputs, args.rounds)

    step, dense_step = ms["whole step, deepmf (plain loop)"], ms["whole step, dense-row reference"]
    adam, gemms = ms["fused Adam over all parameters"], ms["second layers: 3 GEMMs per tower"]
    floor = adam + gemms + ideal_ms
    rest = step - adam - ms["first two layers, forward + weight gradients, as run"]
    epoch_budget = 1000 * args.epoch_target_s / len(loader)
    ratio_budget = dense_step / args.dense_ratio_target
    lines = [
        "| part of a training step | ms/step |",
        "|---|---|",
        *(f"| {name} | {value:.2f} |" for name, value in ms.items()),
        f"| first layers at the fastest embedding-bag rate (cache-resident weight, width {ideal_width}) "
        f"| {ideal_ms:.2f} |",
        f"| rest of the deepmf step (batch building, element-wise ops, Python) | {rest:.2f} |",
        "",
        f"- {args.dataset}, {args.threads} threads, {len(batches)} batches of 256 per round, median of "
        f"{args.rounds} rounds; the dense-row reference is {dense_step / step:.2f}x the deepmf step.",
        f"- Floor: fused Adam + second-layer GEMMs + first layers at the fastest rate = {floor:.2f} ms per "
        "step, with batch building, element-wise ops, Python and Lightning counted as free.",
        f"- {args.epoch_target_s:g} s per epoch ({len(loader):,} steps) needs <= {epoch_budget:.2f} ms per "
        f"step, Lightning included: {epoch_budget - floor:.2f} ms above the floor for what the rest costs "
        f"now ({rest:.2f} ms).",
        f"- {args.dense_ratio_target:g}x the dense-row reference needs <= {ratio_budget:.2f} ms per step: "
        f"{ratio_budget - floor:.2f} ms above the floor for the same rest.",
    ]
    print("\n".join(lines))
    if args.out:
        write_report(args.out, lines)


if __name__ == "__main__":
    main()
