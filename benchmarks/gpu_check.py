"""One ML-1M-scale synthetic DMF epoch at paper settings and the ML-1M-scale evaluation, on a GPU.

Goes through what ``python train.py data=synthetic trainer=gpu`` runs (``RecommenderModule`` under a GPU
``pl.Trainer``, data and Y on the device), times the training epoch (validation excluded, as in
metrics.json) and the evaluation of all users (sampled + full ranking), and prints a markdown table.
Run it with ``bash benchmarks/gpu_check.sh``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
from bare_trainer import bare_trainer

from deepmf.data.synthetic import SyntheticDataModule
from deepmf.losses import PointwiseLoss
from deepmf.models.dmf import DMF
from deepmf.training.callbacks import EpochHistory
from deepmf.training.module import RecommenderModule


def main(preset: str = "ml1m", accelerator: str = "gpu") -> None:
    """``accelerator='cpu'`` (with ``preset='small'``) is a smoke test of this script without a GPU."""
    gpu = accelerator == "gpu"
    if gpu and not torch.cuda.is_available():
        raise SystemExit("no CUDA device visible to torch; is this the CUDA build of torch?")
    card = torch.cuda.get_device_name(0) if gpu else "cpu"
    sync = torch.cuda.synchronize if gpu else (lambda: None)
    started = time.perf_counter()
    datamodule = SyntheticDataModule(preset=preset, cache_dir=str(Path(".cache/deepmf")))
    datamodule.setup()
    data_s = time.perf_counter() - started
    model = DMF(datamodule.train_matrix(), [512, 64], [1024, 64], 0.01)
    module = RecommenderModule(
        model, PointwiseLoss("nce", datamodule.max_rating), 1e-4, [10], datamodule.n_items
    )
    history = EpochHistory()
    trainer = bare_trainer(accelerator, max_epochs=1, callbacks=[history])
    trainer.fit(module, datamodule=datamodule)
    epoch_s = history.rows[0]["train_seconds"]
    n_pairs = datamodule.train_dataloader().n_pairs

    evaluations = []
    for _ in range(3):  # the first includes one-off CUDA work; report the median
        sync()
        started = time.perf_counter()
        trainer.test(module, datamodule=datamodule, verbose=False)
        sync()
        evaluations.append(time.perf_counter() - started)
    eval_s = sorted(evaluations)[1]
    metrics = module.last_metrics
    peak_gb = torch.cuda.max_memory_allocated() / 1e9 if gpu else float("nan")

    print(
        "\n| card | dataset | pairs | epoch s (batch 256) | pairs/s | eval s (all users, sampled + full) "
        "| peak GPU GB | data+split s | test HR@10 / full HR@10 after 1 epoch |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {card} | synthetic-{preset} ({datamodule.n_users:,} x {datamodule.n_items:,}) | {n_pairs:,} "
        f"| {epoch_s:.1f} | {n_pairs / epoch_s:,.0f} | {eval_s:.2f} (runs: "
        f"{', '.join(f'{s:.2f}' for s in evaluations)}) | {peak_gb:.2f} | {data_s:.1f} "
        f"| {metrics.get('test/hr@10', float('nan')):.3f} "
        f"/ {metrics.get('test/full_hr@10', float('nan')):.3f} |"
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
