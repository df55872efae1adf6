"""A sweep rerun into its folder: which jobs are kept, which resume from last.ckpt, which start afresh."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from deepmf.errors import ConfigError
from deepmf.overrides import same_job, what_job_computes
from deepmf.training.rerun import decide
from deepmf.training.run import check_config
from tests.runs import config

OVERRIDES = ["data=ml100k", "seed=1"]
CONFIG = {"model": {"name": "dmf"}, "optim": {"lr": 0.001}, "seed": 1, "trainer": {"max_epochs": 10}}
SETTINGS = {"model.name": "dmf", "optim.lr": 0.001, "seed": 1}  # what a checkpoint records of CONFIG


def job_folder(
    tmp_path: Path, status: str | None = None, overrides=OVERRIDES, checkpoint=None, config=CONFIG
) -> Path:
    """A job folder as an earlier attempt left it: its metrics.json (if any) and last.ckpt (if any)."""
    folder = tmp_path / "0"
    folder.mkdir()
    if status is not None:
        record = {"status": status, "overrides": list(overrides), "metrics": {"val/ndcg@10": 0.4}}
        record["config"] = config
        (folder / "metrics.json").write_text(json.dumps(record))
    if checkpoint is not None:  # what TrainingSettings stores in a checkpoint
        (folder / "checkpoints").mkdir()
        callbacks = {"TrainingSettings": {"settings": checkpoint}}
        torch.save({"callbacks": callbacks}, folder / "checkpoints" / "last.ckpt")
    return folder


def test_a_completed_job_with_the_same_overrides_is_kept(tmp_path):
    attempt = decide(job_folder(tmp_path, "completed"), OVERRIDES, CONFIG, "incomplete")
    assert attempt.action == "keep"
    assert attempt.record["metrics"] == {"val/ndcg@10": 0.4}  # what the job returns to Hydra


def test_how_a_job_is_run_does_not_make_it_another_job(tmp_path):
    folder = job_folder(tmp_path, "completed")
    assert decide(folder, [*OVERRIDES, "rerun=incomplete"], CONFIG, "incomplete").action == "keep"


def test_a_completed_job_whose_overrides_now_compose_other_values_is_not_kept(tmp_path):
    # Same overrides, but the learning rate came from a tuned file (or a default) that has changed since.
    folder = job_folder(tmp_path, "completed", config=CONFIG | {"optim": {"lr": 0.01}})
    assert decide(folder, OVERRIDES, CONFIG, "incomplete").action == "fresh"


def test_a_completed_job_asked_for_more_epochs_resumes_and_one_run_elsewhere_is_kept(tmp_path):
    folder = job_folder(tmp_path, "completed", checkpoint=SETTINGS)
    longer = CONFIG | {"trainer": {"max_epochs": 50}}  # another result: trained on from its last epoch
    assert decide(folder, OVERRIDES, longer, "incomplete").action == "resume"
    # Where it ran, its threads and the dataset's tuned files (compared through the values they gave) are
    # not what it computed.
    elsewhere = CONFIG | {"threads": 1, "paths": {"cache_dir": "/x"}, "tuned": {"ease": {"model": {"l2": 9}}}}
    assert decide(folder, OVERRIDES, elsewhere, "incomplete").action == "keep"


def test_a_completed_job_of_another_grid_in_the_same_folder_is_not_mistaken_for_done(tmp_path):
    folder = job_folder(tmp_path, "completed", overrides=["data=ml100k", "seed=0"])
    assert decide(folder, OVERRIDES, CONFIG, "incomplete").action == "fresh"


def test_rerun_all_starts_every_job_afresh(tmp_path):
    folder = job_folder(tmp_path, "completed", checkpoint=SETTINGS)
    assert decide(folder, OVERRIDES, CONFIG, "all").action == "fresh"


@pytest.mark.parametrize("status", [None, "failed", "running"])
def test_a_killed_or_failed_job_resumes_from_its_last_checkpoint(tmp_path, status):
    folder = job_folder(tmp_path, status, checkpoint=SETTINGS)
    attempt = decide(folder, OVERRIDES, CONFIG, "incomplete")
    assert (attempt.action, attempt.checkpoint) == ("resume", folder / "checkpoints" / "last.ckpt")


def test_a_checkpoint_trained_with_other_settings_is_not_resumed(tmp_path):
    folder = job_folder(tmp_path, "failed", checkpoint=SETTINGS | {"optim.lr": 0.01})
    attempt = decide(folder, OVERRIDES, CONFIG, "incomplete")
    assert attempt.action == "fresh" and "other settings" in attempt.reason


def test_an_unreadable_checkpoint_is_not_resumed(tmp_path):
    folder = job_folder(tmp_path, None, checkpoint=SETTINGS)
    (folder / "checkpoints" / "last.ckpt").write_bytes(b"truncated")
    assert decide(folder, OVERRIDES, CONFIG, "incomplete").action == "fresh"


def test_a_job_without_an_earlier_attempt_starts_afresh(tmp_path):
    assert decide(tmp_path / "new", OVERRIDES, CONFIG, "incomplete").action == "fresh"
    assert decide(job_folder(tmp_path, "failed"), OVERRIDES, CONFIG, "incomplete").action == "fresh"


def test_an_unknown_rerun_choice_is_refused():
    with pytest.raises(ConfigError, match="rerun must be one of incomplete, all, got 'some'"):
        decide(Path("."), OVERRIDES, SETTINGS, "some")


def test_overrides_that_say_how_a_job_runs_are_not_compared():
    how = ["rerun=all", "+resume=x.ckpt", "threads=1", "logger=none", "logger.group=t", "paths.cache_dir=/c"]
    assert what_job_computes(["seed=0", *how, "model.layers=2"]) == ["seed=0", "model.layers=2"]
    assert same_job(["seed=0", "rerun=all", "threads=1"], ["seed=0"])
    assert not same_job(["seed=0"], ["seed=1"])
    assert not same_job(["seed=0"], ["seed=0", "model.layers=2"])
    assert not same_job(["seed=0"], ["seed=0", "threads_per_job=1"])  # a key, not a prefix of "threads"
    # The order on the command line is not the job (a sweep's trials put their searched values first).
    assert same_job(["seed=0", "data=ml1m"], ["data=ml1m", "seed=0"])


def test_a_bad_rerun_is_refused_before_any_data_is_read(tmp_path):
    with pytest.raises(ConfigError, match="rerun must be one of incomplete, all, got 'never'"):
        check_config(config(tmp_path / "no-data", tmp_path / "cache", "rerun=never"))
