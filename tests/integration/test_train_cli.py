"""``train.py`` end to end, as a user runs it, on a tiny synthetic MovieLens-format dataset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SMALL_DMF = ("model.user_first_width=32", "model.item_first_width=32", "model.factors=8")


def run_train(tmp_path: Path, data_dir: Path, *overrides: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DEEPMF_DATA_DIR=str(data_dir), WANDB_MODE="offline")
    flags = [o for o in overrides if o.startswith("-")]
    overrides = tuple(o for o in overrides if not o.startswith("-"))
    command = [
        sys.executable,
        str(ROOT / "train.py"),
        *flags,
        f"hydra.run.dir={tmp_path}/run",
        f"hydra.sweep.dir={tmp_path}/multirun",
        f"paths.cache_dir={tmp_path}/cache",
        "trainer.max_epochs=1",
        "data.eval_negatives=20",
        *overrides,
    ]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def test_one_epoch_writes_metrics_json(tmp_path, ml100k_dir):
    result = run_train(tmp_path, ml100k_dir, "logger=csv", *SMALL_DMF)
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert record["status"] == "completed"
    assert record["best_epoch"] == 0 and record["epochs_trained"] == 1
    for key in (
        "val/hr@10",
        "val/ndcg@10",
        "test/hr@10",
        "test/ndcg@10",
        "test/full_hr@10",
        "test/full_ndcg@10",
    ):
        assert 0.0 <= record["metrics"][key] <= 1.0, key
    assert record["dataset"]["users"] == 30
    assert record["config"]["model"]["name"] == "dmf"
    assert "logger=csv" in record["overrides"]
    assert record["seconds_per_epoch"] > 0
    assert "HR@10" in result.stdout  # the readable summary


def test_wandb_offline_run_is_written(tmp_path, ml100k_dir):
    result = run_train(tmp_path, ml100k_dir, "logger=wandb", "model=lfm", "loss=ce")
    assert result.returncode == 0, result.stderr[-3000:]
    runs = list((tmp_path / "run" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["model"] == "lfm"


def test_multirun_over_two_depths_makes_two_runs(tmp_path, ml100k_dir):
    result = run_train(tmp_path, ml100k_dir, "-m", "model.layers=1,2", "logger=none", *SMALL_DMF)
    assert result.returncode == 0, result.stderr[-3000:]
    records = sorted((tmp_path / "multirun").glob("*/metrics.json"))
    assert len(records) == 2
    layers = sorted(json.loads(p.read_text())["config"]["model"]["layers"] for p in records)
    assert layers == [1, 2]


def test_invalid_option_fails_before_loading_data(tmp_path):
    result = run_train(tmp_path, tmp_path / "no-data-here", "model.layers=0", "logger=none")
    assert result.returncode == 1
    assert "model.layers must be an integer >= 1, got 0" in result.stdout + result.stderr
    assert "not found" not in result.stdout + result.stderr
