"""Runs that go wrong: they stop with a clear message, recorded in metrics.json, and never trust bad files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from deepmf.data.movielens import MovieLens100K
from deepmf.errors import ConfigError, DataError, TrainingError
from deepmf.models.base import MODELS, ModelSpec
from deepmf.models.lfm import LFM, build_lfm, check_lfm_config
from deepmf.training.checkpoint_io import SafeCheckpointIO, load_checkpoint
from tests.runs import run
from tests.synthetic import write_ml100k

ROOT = Path(__file__).resolve().parents[2]


def record_of(out: Path) -> dict[str, Any]:
    return json.loads((out / "metrics.json").read_text())


# --- configs ------------------------------------------------------------------------------------------


def test_invalid_data_option_fails_before_data_is_read(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(ConfigError, match="data.neg_ratio must be an integer >= 0, got -2"):
        run(tmp_path / "no-data-here", out, "data.neg_ratio=-2")
    record = record_of(out)
    assert record["status"] == "failed"
    assert record["error"] == "ConfigError: data.neg_ratio must be an integer >= 0, got -2"
    assert "dataset" not in record  # nothing was loaded


def test_unknown_datamodule_argument_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="unexpected keyword argument 'bogus'"):
        run(tmp_path / "no-data-here", tmp_path / "run", "+data.bogus=1")


def test_loss_max_rating_below_the_datas_ratings_is_refused(tmp_path):
    write_ml100k(tmp_path / "data", n_users=20, n_items=60, seed=1)
    with pytest.raises(
        ConfigError, match=r"loss.max_rating=2 is below the largest rating in the data \(5.0\)"
    ):
        run(tmp_path / "data", tmp_path / "run", "loss.max_rating=2")


def test_hydra_typo_is_a_clear_message_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "model.layr=3", f"hydra.run.dir={tmp_path}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert "Could not override 'model.layr'" in output and "Key 'layr' is not in struct" in output
    assert "Traceback" not in output


# --- non-finite loss ----------------------------------------------------------------------------------


class NaNAfter(LFM):
    """An LFM whose scores become NaN from training step ``start`` on (a diverged model, on demand)."""

    start = 0

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        scores = super().forward(users, items)
        if self.training:
            self.steps = getattr(self, "steps", 0) + 1
            if self.steps > self.start:
                return scores * float("nan")
        return scores


def build_nan_test(config: Any, context: Any) -> LFM:
    model = build_lfm(config, context)
    model.__class__ = NaNAfter
    return model


@pytest.fixture
def nan_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register ``model.name=nan_test`` for one test only."""
    monkeypatch.setitem(MODELS, "nan_test", ModelSpec(build_nan_test, check_lfm_config))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("failures")
    write_ml100k(root / "data", n_users=30, n_items=150, seed=0)
    return root / "data"


@pytest.mark.parametrize(
    ("start", "message"),
    [
        (0, "non-finite training loss (nan) at epoch 0, step 0; lower optim.lr or check the data"),
        # Step 1 is between the sampled checks: the epoch-end flag catches it.
        (1, "non-finite training loss during epoch 0; lower optim.lr or check the data"),
    ],
)
def test_non_finite_loss_stops_the_run_and_is_recorded(
    data_dir, tmp_path, monkeypatch, nan_model, start, message
):
    monkeypatch.setattr(NaNAfter, "start", start)
    out = tmp_path / "run"
    with pytest.raises(TrainingError) as info:
        run(data_dir, out, "model=lfm", "model.name=nan_test")
    assert str(info.value) == message
    record = record_of(out)
    assert record["status"] == "failed"
    assert record["error"] == f"NonFiniteLossError: {message}"
    assert not (out / "checkpoints" / "last.ckpt").exists()  # the diverged weights are never saved


# --- checkpoints --------------------------------------------------------------------------------------


class Payload:
    """Unpickling this creates a file: stands for arbitrary code in a checkpoint."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


def test_checkpoint_with_pickled_code_is_refused(data_dir, tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "last.ckpt"
    torch.save({"state_dict": {}, "epoch": 0, "payload": Payload(marker)}, evil)
    torch.load(evil, weights_only=False)  # the payload is live: a plain load runs it
    assert marker.exists()
    marker.unlink()

    with pytest.raises(DataError, match=r"last\.ckpt: refused: the checkpoint holds objects other than"):
        load_checkpoint(evil)
    # Through the real run: Lightning's fit(ckpt_path=...) loads via SafeCheckpointIO.
    out = tmp_path / "run"
    with pytest.raises(DataError, match="refused"):
        run(data_dir, out, f"resume={evil}")
    assert not marker.exists()
    assert record_of(out)["error"].startswith(f"DataError: {evil}: refused")


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "last.ckpt"
    torch.save({"state_dict": {"w": torch.ones(1000)}}, path)
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(DataError, match=r"last\.ckpt: cannot read checkpoint .*truncated or corrupt"):
        load_checkpoint(path)


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "checkpoints" / "last.ckpt"
    io = SafeCheckpointIO()
    io.save_checkpoint({"epoch": 1, "w": torch.ones(3)}, path)

    def killed_mid_write(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
        Path(f).write_bytes(b"PK\x03\x04 half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", killed_mid_write)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"epoch": 2, "w": torch.zeros(3)}, path)
    assert io.load_checkpoint(path)["epoch"] == 1  # the previous checkpoint, intact
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]  # no temporary file left


# --- the split cache ----------------------------------------------------------------------------------


def datamodule(data_dir: Path, cache: Path) -> MovieLens100K:
    return MovieLens100K(data_dir=str(data_dir), cache_dir=str(cache), eval_negatives=20)


def test_preprocessing_killed_mid_write_leaves_no_trusted_cache(data_dir, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    real_savez = np.savez

    def killed_mid_write(handle: Any, **arrays: Any) -> None:
        handle.write(b"PK\x03\x04 half a split")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", killed_mid_write)
    with pytest.raises(KeyboardInterrupt):
        datamodule(data_dir, cache).setup()
    # Neither a cache nor a temporary file; only the lock that jobs started together build it under.
    assert sorted(cache.rglob("*")) == [cache / "ml100k", *(cache / "ml100k").glob("split-*.npz.lock")]
    assert len(list(cache.rglob("*.lock"))) == 1

    # A SIGKILL leaves its temporary file behind: it is never read as a cache.
    (cache / "ml100k" / ".split-0123456789abcdef.npz.x.tmp").write_bytes(b"PK\x03\x04 half")
    monkeypatch.setattr(np, "savez", real_savez)
    built = datamodule(data_dir, cache)
    built.setup()
    fresh = MovieLens100K(data_dir=str(data_dir), cache_dir=None, eval_negatives=20)
    fresh.setup()
    assert np.array_equal(built.split.eval_negatives, fresh.split.eval_negatives)


def test_corrupt_or_pickled_cache_is_rebuilt(data_dir, tmp_path, caplog):
    cache = tmp_path / "cache"
    first = datamodule(data_dir, cache)
    first.setup()
    (path,) = (cache / "ml100k").glob("split-*.npz")
    for bad in (b"PK\x03\x04 not a zip", None):
        if bad is None:  # an object array would need pickle to load
            with open(path, "wb") as handle:
                np.savez(handle, version=np.array([object()], dtype=object))
        else:
            path.write_bytes(bad)
        again = datamodule(data_dir, cache)
        again.setup()
        assert f"{path}: unreadable split cache" in caplog.text and "rebuilding the split" in caplog.text
        assert np.array_equal(again.split.eval_negatives, first.split.eval_negatives)
