"""GPU training-step time of DMF at paper settings, and where the host waits for the device.

Times ``--steps`` plain training steps (forward, nce loss, backward, fused Adam; batch 256, towers
[512, 64] / [1024, 64]) on one epoch's pairs, counts the host-device synchronisations of a few steps
with ``torch.cuda.set_sync_debug_mode``, by source line, then those of a short Lightning ``fit`` (what
``train.py trainer=gpu`` runs). Prints markdown. ``bash benchmarks/gpu_check.sh`` runs it first.
"""

from __future__ import annotations

import argparse
import collections
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from bare_trainer import bare_trainer

from deepmf.data.synthetic import SyntheticDataModule
from deepmf.losses import PointwiseLoss
from deepmf.models.dmf import DMF
from deepmf.training.module import RecommenderModule

BATCH = 256


def count_syncs(run: Callable[[], object], gpu: bool) -> collections.Counter:
    """Host-device syncs while ``run()`` executes, by the Python line that caused each (GPU only)."""
    counts: collections.Counter = collections.Counter()
    if not gpu:
        run()
        return counts
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            run()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    for warning in caught:
        if "synchroniz" in str(warning.message):
            counts[f"{Path(warning.filename).name}:{warning.lineno}"] += 1
    return counts


def sources(counts: collections.Counter, top: int) -> str:
    return ", ".join(f"{where} x{n}" for where, n in counts.most_common(top)) or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="ml1m")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--sync-steps", type=int, default=10)
    parser.add_argument("--device", default="cuda", help="cpu: a smoke test of this script (no sync counts)")
    args = parser.parse_args()
    device = torch.device(args.device)
    gpu = device.type == "cuda"
    sync = torch.cuda.synchronize if gpu else (lambda: None)
    datamodule = SyntheticDataModule(preset=args.preset, cache_dir=str(Path(".cache/deepmf")))
    datamodule.setup()
    loss_fn = PointwiseLoss("nce", datamodule.max_rating)
    users, items, ratings = (t.to(device) for t in datamodule.train_dataloader().epoch_pairs(0))
    torch.manual_seed(0)
    model = DMF(datamodule.train_matrix(), [512, 64], [1024, 64], 0.01).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)

    def step(k: int) -> None:
        s = (k * BATCH) % (len(users) - BATCH)
        loss = loss_fn(model(users[s : s + BATCH], items[s : s + BATCH]), ratings[s : s + BATCH])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for k in range(30):
        step(k)
    sync()
    chunk = max(1, args.steps // 3)
    per_step = []
    for r in range(3):
        started = time.perf_counter()
        for k in range(chunk):
            step(100 + r * chunk + k)
        sync()
        per_step.append((time.perf_counter() - started) / chunk * 1e3)
    ms = sorted(per_step)[1]
    syncs = count_syncs(lambda: [step(k) for k in range(args.sync_steps)], gpu)

    card = torch.cuda.get_device_name(0) if gpu else "cpu"
    header = f"ms / step (median of 3 x {chunk}) | projected epoch s | syncs / step | sources"
    print(f"\n| card | dataset | {header} |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {card} | synthetic-{args.preset}, {len(users):,} pairs | {ms:.2f} "
        f"| {ms * len(users) / BATCH / 1e3:.1f} | {sum(syncs.values()) / args.sync_steps:.1f} "
        f"| {sources(syncs, 6)} |"
    )

    module = RecommenderModule(model, loss_fn, 1e-4, [10], datamodule.n_items)
    trainer = bare_trainer("gpu" if gpu else "cpu", max_epochs=1, limit_train_batches=200)
    syncs = count_syncs(lambda: trainer.fit(module, datamodule=datamodule), gpu)
    print(f"\nLightning fit, 200 steps: {sum(syncs.values())} syncs ({sources(syncs, 10)})")


if __name__ == "__main__":
    main()
