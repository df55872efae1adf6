"""Tuning with Hydra's optuna sweeper end to end on tiny synthetic data: the DMF search space over two
trials, a study that goes on past a failed trial, and one rerun after a kill."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.integration.test_train_cli import run_train

SMALL_TOWERS = ("model.user_first_width=32", "model.item_first_width=32", "logger=none")


def trials(sweep: Path) -> dict[int, dict]:
    return {int(p.parent.name): json.loads(p.read_text()) for p in sweep.glob("*/metrics.json")}


def test_two_trials_of_the_dmf_space_select_on_validation(tmp_path, ml100k_dir):
    result = run_train(tmp_path, ml100k_dir, "+hparams/search=dmf", "hydra.sweeper.n_trials=2", *SMALL_TOWERS)
    assert result.returncode == 0, result.stderr[-3000:]
    sweep = tmp_path / "multirun"
    found = trials(sweep)
    assert sorted(found) == [0, 1] and all(r["status"] == "completed" for r in found.values())
    for record in found.values():
        # Each trial ran a point of the space, with early stopping on validation from the shared budget.
        assert any(o.startswith("optim.lr=") for o in record["overrides"])
        assert record["config"]["selection"]["patience"] == 5

    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    scores = {job: record["metrics"]["val/ndcg@10"] for job, record in found.items()}
    best = max(scores, key=scores.get)
    # The objective optuna maximised is each trial's validation NDCG@10 (selection.monitor), never test.
    assert results["best_value"] == scores[best]
    chosen = {key: str(value) for key, value in results["best_params"].items()}
    assert chosen == {
        o.split("=")[0]: o.split("=")[1] for o in found[best]["overrides"] if o.split("=")[0] in chosen
    }
    assert set(chosen) == {"optim.lr", "data.neg_ratio", "model.factors", "model.layers"}


def test_a_failed_trial_is_told_as_failed_and_the_study_goes_on(tmp_path, ml100k_dir):
    # Trial 0 asks for model.layers=0, which is refused (a ConfigError: train.py returns None); trial 1
    # trains. The shared budget's optuna settings, no search space: which trial fails is not left to chance.
    result = run_train(
        tmp_path, ml100k_dir, "+hparams/search=budget", "hydra.sweeper.n_trials=2",
        "model.layers=${hydra:job.num}", "model.factors=8", *SMALL_TOWERS,
    )  # fmt: skip
    sweep = tmp_path / "multirun"
    found = trials(sweep)
    assert {job: r["status"] for job, r in found.items()} == {0: "failed", 1: "completed"}, result.stderr[
        -3000:
    ]
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert results["best_value"] == found[1]["metrics"]["val/ndcg@10"]
    assert result.returncode == 1  # as for any sweep with a failed job


def test_a_search_rerun_after_a_kill_keeps_its_trials_and_asks_what_one_run_would(tmp_path, ml100k_dir):
    # A 3-trial search killed after two trials is rerun with the same command: its kept trials return
    # their recorded metric to optuna, so the seeded TPE sees the same history and asks the same points.
    search = ("+hparams/search=dmf", *SMALL_TOWERS)
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    assert run_train(killed, ml100k_dir, *search, "hydra.sweeper.n_trials=2").returncode == 0
    for trial in ("0", "1"):  # a trial run again would rewrite its record and lose the mark
        path = killed / "multirun" / trial / "metrics.json"
        path.write_text(json.dumps(json.loads(path.read_text()) | {"marked_by_test": True}))

    result = run_train(killed, ml100k_dir, *search, "hydra.sweeper.n_trials=3")
    assert result.returncode == 0, result.stderr[-3000:]
    rerun = trials(killed / "multirun")
    assert [rerun[t].get("marked_by_test") for t in (0, 1, 2)] == [True, True, None]
    assert rerun[2]["status"] == "completed"

    assert run_train(whole, ml100k_dir, *search, "hydra.sweeper.n_trials=3").returncode == 0
    uninterrupted = trials(whole / "multirun")
    searched = ("optim.lr=", "data.neg_ratio=", "model.factors=", "model.layers=")

    def point(record: dict) -> list[str]:
        return [o for o in record["overrides"] if o.startswith(searched)]

    assert [point(uninterrupted[t]) for t in (0, 1, 2)] == [point(rerun[t]) for t in (0, 1, 2)]
    assert len({tuple(point(rerun[t])) for t in (0, 1, 2)}) == 3  # three different points
    results = yaml.safe_load((killed / "multirun" / "optimization_results.yaml").read_text())
    assert results["best_value"] == max(r["metrics"]["val/ndcg@10"] for r in rerun.values())
