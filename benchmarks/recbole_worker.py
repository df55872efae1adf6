"""RecBole's DMF at deepmf's widths, timed like bench.py's workers; run by the RecBole venv's python.

Reads the training interactions that bench.py exported (``--export``), writes them as a RecBole atomic
file, builds RecBole's DMF with user tower [512, 64], item tower [1024, 64] and rating input, and times
``steps`` steps of ``calculate_loss`` + backward + Adam on RecBole's own training loader (7 uniform
negatives per positive). Prints one JSON line, or ``{"skipped": reason}``.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path


def main(spec: dict) -> dict:
    import numpy as np
    import torch
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.model.general_recommender.dmf import DMF

    torch.set_num_threads(spec["threads"])
    arrays = np.load(spec["export"])
    folder = Path(tempfile.mkdtemp(prefix="recbole-"))
    (folder / "bench").mkdir()
    with open(folder / "bench" / "bench.inter", "w") as handle:
        handle.write("user_id:token\titem_id:token\trating:float\n")
        for u, i, r in zip(arrays["users"], arrays["items"], arrays["ratings"]):
            handle.write(f"{u}\t{i}\t{r}\n")
    config = Config(
        model="DMF",
        dataset="bench",
        config_dict={
            "data_path": str(folder),
            "load_col": {"inter": ["user_id", "item_id", "rating"]},
            "user_embedding_size": 512,
            "item_embedding_size": 1024,
            "user_hidden_size_list": [64],
            "item_hidden_size_list": [64],
            "inter_matrix_type": "rating",
            "train_batch_size": spec["batch"],
            "train_neg_sample_args": {"distribution": "uniform", "sample_num": 7},
            "eval_args": {"split": {"RS": [0.98, 0.01, 0.01]}, "order": "RO", "mode": "full"},
            "device": "cpu",
            "use_gpu": False,
            "show_progress": False,
            "state": "ERROR",
        },
    )
    dataset = create_dataset(config)
    train_data, _, _ = data_preparation(config, dataset)
    model = DMF(config, train_data.dataset)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    steps, warmup, pairs, done = spec["steps"], spec["warmup"], 0, 0
    wall = cpu = 0.0
    while done < warmup + steps:
        for interaction in train_data:
            if done == warmup:
                wall, cpu = time.perf_counter(), time.process_time()
            if done >= warmup:
                pairs += len(interaction)
            loss = model.calculate_loss(interaction)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            done += 1
            if done == warmup + steps:
                break
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    epoch_pairs = len(arrays["users"]) * 8
    return {
        "step_ms": 1000 * wall / steps,
        "cpu_ms_per_step": 1000 * cpu / steps,
        "pairs_per_s": pairs / wall,
        "s_per_epoch": epoch_pairs / (pairs / wall),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "pairs_per_step": pairs / steps,
    }


if __name__ == "__main__":
    try:
        print(json.dumps(main(json.loads(sys.argv[1]))))
    except Exception as exc:  # report, never crash the benchmark table
        print(json.dumps({"skipped": f"RecBole failed: {type(exc).__name__}: {exc}"[:300]}))
