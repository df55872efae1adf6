"""Baselines through the same run as DMF (in-process, Hydra compose), on tiny synthetic data."""

from __future__ import annotations

import json
from pathlib import Path

from hydra import compose, initialize_config_dir

from deepmf.training.run import train
from tests.runs import evaluate_checkpoint

CONF = Path(__file__).resolve().parents[2] / "conf"


def run(tmp_path: Path, data_dir: Path, *overrides: str) -> dict:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[
                f"paths.data_dir={data_dir}",
                f"paths.cache_dir={tmp_path}/cache",
                "logger=none",
                "data.eval_negatives=20",
                *overrides,
            ],
        )
    train(cfg, tmp_path / "run")
    return json.loads((tmp_path / "run" / "metrics.json").read_text())


def test_eals_logs_every_sweep_as_an_epoch_and_selects_on_validation(tmp_path, ml100k_dir):
    record = run(tmp_path, ml100k_dir, "model=eals", "model.iterations=3", "model.factors=8")
    assert record["status"] == "completed"
    # model.iterations, not trainer.max_epochs (10), sets the epochs of a fitted model.
    assert record["epochs_trained"] == 3
    history = record["history"]
    assert [row["epoch"] for row in history] == [0, 1, 2]
    losses = [row["train/loss"] for row in history]
    assert losses == sorted(losses, reverse=True)
    best = max(history, key=lambda row: row["val/ndcg@10"])
    assert record["best_epoch"] == best["epoch"]
    assert 0 <= record["metrics"]["test/ndcg@10"] <= 1
    # Each sweep writes checkpoints like a gradient step would, and the test uses the selected sweep's.
    tested = Path(record["best_checkpoint"])
    assert tested.name == f"best-epoch={best['epoch']}.ckpt" and (tested.parent / "last.ckpt").is_file()
    direct = evaluate_checkpoint(record, tested, "test")
    assert {k: v for k, v in record["metrics"].items() if k.startswith("test/")} == {
        k: v for k, v in direct.items() if k.startswith("test/") and k in record["metrics"]
    }


def test_closed_form_model_trains_one_epoch_of_one_batch(tmp_path, ml100k_dir):
    record = run(tmp_path, ml100k_dir, "model=ease", "model.l2=10")
    assert record["status"] == "completed" and record["epochs_trained"] == 1
    assert record["metrics"]["test/hr@10"] > 0
    # Nothing to select between epochs: tested in memory, its n_items^2 weights never written.
    assert record["best_checkpoint"] is None and not (tmp_path / "run" / "checkpoints").exists()


def test_neumf_p_trains_gmf_and_mlp_first_in_the_same_run(tmp_path, ml100k_dir):
    record = run(
        tmp_path,
        ml100k_dir,
        "model=neumf",
        "+recipe=ncf",
        "model.pretrain=true",
        "trainer.max_epochs=1",
        "model.factors=4",
        "model.mlp_layers=[8,4]",
    )
    assert record["status"] == "completed"
    assert set(record["components"]) == {"gmf", "mlp"}
    for name in ("gmf", "mlp"):
        component = json.loads((tmp_path / "run" / "pretrain" / name / "metrics.json").read_text())
        assert component["status"] == "completed"
        assert component["config"]["model"]["name"] == name
        assert component["config"]["loss"]["name"] == "ce"  # the recipe reaches the components
        assert record["components"][name]["metrics"] == component["metrics"]
