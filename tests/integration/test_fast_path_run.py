"""``fast_path.enabled=true`` end to end on CPU: the same training as the default step, by the numbers."""

from __future__ import annotations

import json

import pytest
import torch

from deepmf.errors import ConfigError
from tests.integration.test_train_cli import SMALL_DMF, run_train
from tests.runs import run

#: lr 1e-3: Adam amplifies rounding-level gradients into lr-sized steps (see tests/unit/test_fast_step.py).
SAME_TRAINING = ("trainer.max_epochs=2", "optim.lr=0.001", "data.batch_size=128")


def test_fast_path_trains_what_the_default_step_trains(tmp_path, ml100k_dir):
    default = run(ml100k_dir, tmp_path / "default", *SAME_TRAINING)
    fast = run(
        ml100k_dir,
        tmp_path / "fast",
        *SAME_TRAINING,
        "fast_path.enabled=true",
        "fast_path.first_layer=dense",
        "fast_path.steps_per_call=4",  # several calls per epoch, the last one short
    )
    assert default["fast_path"] is None
    assert fast["fast_path"] == {
        "compile": "false",
        "steps_per_call": 4,
        "first_layer": "dense",
        "dense_budget_mb": 4096.0,
    }
    assert fast["status"] == "completed" and fast["epochs_trained"] == 2
    # The first epoch agrees to rounding (measured: loss 1.7e-5 relative, validation identical). Later,
    # Adam's eps turns rounding-level gradients into lr-sized steps and the runs drift apart, less than
    # today's step drifts from itself with model.fast_backward off (epoch 2 loss 0.273 vs 0.320): the
    # fast path measured 0.2731 vs 0.2743. So later epochs and the tested metrics are "in line".
    first, first_fast = default["history"][0], fast["history"][0]
    assert first_fast["train/loss"] == pytest.approx(first["train/loss"], rel=1e-4)
    assert first_fast["val/ndcg@10"] == pytest.approx(first["val/ndcg@10"], abs=1e-3)
    for want, got in zip(default["history"][1:], fast["history"][1:]):
        assert got["train/loss"] == pytest.approx(want["train/loss"], rel=2e-2)
    for key, value in default["metrics"].items():
        assert fast["metrics"][key] == pytest.approx(value, abs=0.1), key  # 30 users: 0.1 is 3 users


def test_fast_path_refuses_what_it_cannot_train(tmp_path, ml100k_dir):
    with pytest.raises(ConfigError, match="model=dmf with optim.name=adam only"):
        run(ml100k_dir, tmp_path / "lfm", "model=lfm", "fast_path.enabled=true")
    with pytest.raises(ConfigError, match="cuda_graph needs a CUDA trainer"):
        run(ml100k_dir, tmp_path / "graph", "fast_path.enabled=true", "fast_path.compile=cuda_graph")
    with pytest.raises(ConfigError, match="fast_path.steps_per_call must be an integer >= 1, got 0"):
        run(ml100k_dir, tmp_path / "steps", "fast_path.steps_per_call=0")


def test_train_py_runs_the_fast_path(tmp_path, ml100k_dir):
    result = run_train(tmp_path, ml100k_dir, "logger=none", *SMALL_DMF, "fast_path.enabled=true")
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert record["status"] == "completed"
    assert record["fast_path"]["first_layer"] == "auto" and record["fast_path"]["compile"] == "false"
    assert 0.0 <= record["metrics"]["test/hr@10"] <= 1.0


def test_fast_path_resumes_as_if_never_stopped(tmp_path, ml100k_dir):
    """Its checkpoints are today's (model, Adam moments and step count, global step): a run stopped after
    epoch 0 and resumed ends where an uninterrupted one does."""
    fast = ("fast_path.enabled=true", "fast_path.first_layer=dense", "data.batch_size=128")
    whole = run(ml100k_dir, tmp_path / "whole", *fast, "trainer.max_epochs=2")
    first = run(ml100k_dir, tmp_path / "part", *fast, "trainer.max_epochs=1")
    last = tmp_path / "part" / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(last, weights_only=True)
    assert checkpoint["global_step"] == checkpoint["optimizer_states"][0]["state"][0]["step"] > 0
    resumed = run(ml100k_dir, tmp_path / "resumed", *fast, "trainer.max_epochs=2", f"resume={last}")
    assert first["status"] == resumed["status"] == "completed"
    assert [row["train/loss"] for row in resumed["history"]] == [
        row["train/loss"] for row in whole["history"]
    ]
    assert resumed["metrics"] == whole["metrics"]
