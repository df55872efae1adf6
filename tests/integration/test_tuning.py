"""Tuning end to end on tiny synthetic data: a DMF search writes the chosen values and its budget, the
tuned DMF trains with them (and is refused without them); a small real sweep writes significance.csv."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import yaml

from deepmf.report.aggregate import aggregate
from deepmf.report.collect import find_jobs
from tests.integration.test_optuna_sweep import SMALL_TOWERS, trials
from tests.integration.test_train_cli import ROOT, run_train

#: Generated data: no conf/hparams/tuned/synthetic/ exists, whatever the checkout has tuned for real data.
SYNTHETIC = ("data=synthetic", "data.preset=small")


def test_a_dmf_search_writes_its_values_and_budget_and_the_tuned_dmf_trains_with_them(tmp_path, ml100k_dir):
    search = ("+hparams/search=dmf", "hydra.sweeper.n_trials=2", *SYNTHETIC, *SMALL_TOWERS)
    result = run_train(tmp_path, ml100k_dir, *search)
    assert result.returncode == 0, result.stderr[-3000:]
    sweep = tmp_path / "multirun"
    found = trials(sweep)
    best = max(found.values(), key=lambda r: r["metrics"]["val/ndcg@10"])  # chosen on validation only

    tuned_root = tmp_path / "tuned"
    tuned_file = tuned_root / "hparams" / "tuned" / "synthetic" / "dmf.yaml"
    command = [sys.executable, "-m", "deepmf.report.best", str(sweep), "--write", str(tuned_file)]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))  # this checkout's deepmf
    written = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert written.returncode == 0, written.stderr[-3000:]
    values = yaml.safe_load(tuned_file.read_text())
    assert values["optim"]["lr"] == best["config"]["optim"]["lr"]
    assert values["model"]["layers"] == best["config"]["model"]["layers"]
    assert values["data"]["neg_ratio"] == best["config"]["data"]["neg_ratio"]
    assert values["selection"]["patience"] == 5  # the budget's early stopping on validation
    assert values["data"]["batch_size"] == best["config"]["data"]["batch_size"] == 4096  # the trials' batch
    budget = values["tuning"]
    assert budget["trials"] == budget["completed"] == 2
    assert budget["best_value"] == best["metrics"]["val/ndcg@10"]
    assert budget["wall_time_s"] == round(sum(r["wall_time_s"] for r in found.values()), 1)
    assert set(budget["searched"]) == {"optim.lr", "data.neg_ratio", "model.factors", "model.layers"}

    # The tuned DMF reads those values (here through hydra.searchpath, as the smoke-test profile does).
    run = tmp_path / "tuned_run"
    result = run_train(
        tmp_path, ml100k_dir, "+method=dmf_tuned", f"hydra.searchpath=[file://{tuned_root}]",
        f"hydra.run.dir={run}", "trainer.max_epochs=1", *SYNTHETIC, *SMALL_TOWERS,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((run / "metrics.json").read_text())
    assert record["config"]["optim"]["lr"] == values["optim"]["lr"]
    assert record["config"]["model"]["layers"] == values["model"]["layers"]
    assert record["config"]["data"]["batch_size"] == 4096  # trained at the batch its values were chosen at
    report = aggregate(find_jobs(run), "table2")
    assert report.factors == ["DMF-nce (tuned)"]
    header, rows = report.tuning_table()
    assert rows[0][3] == "2 (2)" and str(sweep) in rows[0][-1]
    assert "Tuning budget" in report.markdown()


def test_the_tuned_dmf_is_refused_without_tuned_values(tmp_path, ml100k_dir):
    result = run_train(tmp_path, ml100k_dir, "+method=dmf_tuned", *SYNTHETIC, *SMALL_TOWERS)
    assert result.returncode != 0
    record = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert record["status"] == "failed"
    assert "no tuned values for synthetic" in record["error"]
    assert "conf/hparams/tuned/synthetic/dmf.yaml" in record["error"]
    assert "only=tuning data=synthetic" in record["error"]


def test_a_small_sweep_writes_significance_csv(tmp_path, ml100k_dir):
    result = run_train(
        tmp_path, ml100k_dir, "-m", "+method=dmf2_nce,dmf2_ce", "seed=0,1", "trainer.max_epochs=2",
        "model.factors=8", *SMALL_TOWERS,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    sweep = tmp_path / "multirun"
    assert len(list(sweep.glob("*/per_user.npz"))) == 4
    frame = pd.read_csv(sweep / "significance.csv")
    # One pair (DMF-2-ce, DMF-2-nce) x 2 measures x 2 protocols, each over both seeds and every user.
    assert len(frame) == 4
    assert set(frame["seeds_a"]) == set(frame["seeds_b"]) == {2}
    users = json.loads(next(sweep.glob("*/metrics.json")).read_text())["dataset"]["users"]
    assert set(frame["users"]) == {users}
    assert frame["p_holm"].between(0, 1).all() and frame["p_holm"].ge(frame["p"]).all()
    assert "Significance" in (sweep / "table.md").read_text()
