"""Four ``train.py`` processes started at once on one empty cache: one builds the split, all train on it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.integration.test_train_cli import ROOT, SMALL_DMF

PROCESSES = 4


def test_runs_started_together_on_an_empty_cache_share_one_split(tmp_path, ml100k_dir):
    cache = tmp_path / "cache"  # shared by every process, empty: none has been built yet
    env = dict(os.environ, DEEPMF_DATA_DIR=str(ml100k_dir), WANDB_MODE="offline")
    runs = [tmp_path / f"run{k}" for k in range(PROCESSES)]
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "train.py"),
                f"hydra.run.dir={run}",
                f"paths.cache_dir={cache}",
                "trainer.max_epochs=1",
                "data.eval_negatives=20",
                "logger=wandb",
                "threads=1",
                *SMALL_DMF,
            ],  # fmt: skip
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for run in runs
    ]
    outputs = [process.communicate(timeout=300)[0] for process in processes]
    assert [process.returncode for process in processes] == [0] * PROCESSES, outputs

    logs = [(run / "train.log").read_text() for run in runs]
    assert sum("saved split to" in log for log in logs) == 1  # one built it ...
    assert sum("reusing split" in log for log in logs) == PROCESSES - 1  # ... the others read that file
    assert len(list(cache.glob("*/split-*.npz"))) == 1

    records = [json.loads((run / "metrics.json").read_text()) for run in runs]
    assert len({r["dataset"]["sha256"] for r in records}) == 1
    # Same seed, same split, one thread: the same model, so the same numbers.
    assert all(r["metrics"] == records[0]["metrics"] for r in records)
    # W&B run ids are drawn from the OS, not from the seeded generators: one run per process.
    run_ids = {path.name.rsplit("-", 1)[1] for run in runs for path in (run / "wandb").glob("offline-run-*")}
    assert len(run_ids) == PROCESSES
