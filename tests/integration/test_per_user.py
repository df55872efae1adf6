"""per_user.npz: every kind of model writes it, it round-trips, and its ranks give the run's metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from deepmf.evaluation.per_user import (
    FILENAME,
    MEASURES,
    StageRanks,
    load_per_user,
    save_per_user,
)
from deepmf.training.run import train
from tests.runs import CONF, run


def run_baseline(data_dir: Path, out: Path, *overrides: str) -> dict:
    """A run without the DMF-only settings of ``tests.runs.TINY`` (baselines lack those keys)."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[
                f"paths.data_dir={data_dir}",
                f"paths.cache_dir={out.parent / 'cache'}",
                "logger=none",
                "data.eval_negatives=20",
                *overrides,
            ],
        )
    return train(cfg, out, list(overrides))


def test_round_trip_keeps_every_array_and_the_epoch(tmp_path: Path):
    stages = {
        "val": StageRanks(np.array([0, 2, 5]), np.array([0, 11, 3]), np.array([7, 400, 2])),
        "test": StageRanks(np.array([0, 2]), np.array([1, 99]), np.array([0, 1500])),
    }
    save_per_user(tmp_path / FILENAME, stages, epoch=4)
    loaded = load_per_user(tmp_path / FILENAME)
    assert loaded.epoch == 4
    for stage, ranks in stages.items():
        for part in ("users", "sampled", "full"):
            got = getattr(loaded.stages[stage], part)
            assert got.dtype == np.int32
            np.testing.assert_array_equal(got, getattr(ranks, part))
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically: no temporary file left


def test_a_damaged_file_is_an_error_naming_it(tmp_path: Path):
    path = tmp_path / FILENAME
    path.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=str(path)):
        load_per_user(path)


def _assert_ranks_give_the_recorded_metrics(folder: Path, record: dict, stages: tuple[str, ...]) -> None:
    per_user = load_per_user(folder / FILENAME)
    assert per_user.epoch == record["best_epoch"]
    assert set(per_user.stages) == set(stages)
    for stage in stages:
        ranks = per_user.stages[stage]
        assert len(np.unique(ranks.users)) == len(ranks.users) == record["dataset"]["users"]
        for protocol, prefix in (("sampled", f"{stage}/"), ("full", f"{stage}/full_")):
            for measure, per_user_score in MEASURES.items():
                expected = record["metrics"][f"{prefix}{measure}@10"]  # val: logged as float32
                assert per_user_score(ranks.ranks(protocol), 10).mean() == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    "overrides",
    [
        ("trainer.max_epochs=3", "model.factors=8"),  # DMF, by gradient epochs
        ("+method=gmf", "trainer.max_epochs=2", "model.factors=8"),  # the NCF family
        ("model=itempop",),  # fitted in one step
        ("model=eals", "model.iterations=3", "model.factors=8"),  # fitted over epochs, best one selected
    ],
    ids=["dmf", "gmf", "itempop", "eals"],
)
def test_every_model_kind_saves_the_ranks_of_the_selected_epoch(tmp_path, ml100k_dir, overrides):
    record = run_baseline(ml100k_dir, tmp_path / "run", *overrides)
    assert record["status"] == "completed"
    _assert_ranks_give_the_recorded_metrics(tmp_path / "run", record, ("val", "test"))


def test_a_run_without_validation_saves_the_test_only(tmp_path, ml100k_dir):
    record = run(ml100k_dir, tmp_path / "run", "trainer.max_epochs=2", "data.validation=false")
    assert record["status"] == "completed"
    assert set(load_per_user(tmp_path / "run" / FILENAME).stages) == {"test"}
