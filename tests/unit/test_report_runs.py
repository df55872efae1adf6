"""Which runs a report takes: jobs but not their components, a folder's latest sweep, a table's own runs."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from deepmf.report.__main__ import main
from deepmf.report.aggregate import aggregate
from deepmf.report.best import best_job
from deepmf.report.callback import ReportOnMultirunEnd
from deepmf.report.collect import NoRunsError, find_jobs, with_components
from deepmf.report.results import write_results
from deepmf.report.sweeps import BASIC_SWEEPER
from tests.unit.test_report import DMF, make_run, metrics_for


def scored(val: float) -> dict:
    return metrics_for(0.5) | {"val/hr@10": val, "val/ndcg@10": val}


def write_multirun(sweep: Path, *task: str, params: dict | None = None) -> None:
    """``multirun.yaml`` as Hydra's basic sweeper writes it when a sweep starts (the parts read back)."""
    sweep.mkdir(parents=True, exist_ok=True)
    hydra = {"sweeper": {"_target_": BASIC_SWEEPER, "params": params}, "overrides": {"task": list(task)}}
    (sweep / "multirun.yaml").write_text(OmegaConf.to_yaml({"hydra": hydra}))


def sweep_job(sweep: Path, num: int, seed: int, val: float | None, **extra) -> Path:
    """Job ``num`` of a sweep ``data=ml100k seed=...``, with Hydra's record of its number; None: failed."""
    folder = sweep / str(num)
    make_run(folder, *DMF, "ml100k", seed, None if val is None else scored(val), **extra)
    (folder / ".hydra" / "hydra.yaml").write_text(f"hydra:\n  job:\n    num: {num}\n")
    return folder


def component(job: Path, name: str, val: float) -> None:
    """A component run as ``training/pretrain.py`` leaves it: its own metrics.json, no ``.hydra/``."""
    folder = job / "pretrain" / name
    folder.mkdir(parents=True)
    record = {"status": "completed", "overrides": [f"component={name}"], "metrics": scored(val)}
    record |= {"config": {"model": {"name": name}, "loss": {"name": "ce"}}, "dataset": {"name": "ml100k"}}
    (folder / "metrics.json").write_text(json.dumps(record))


# 1. Components of NeuMF-p.


def test_pretrained_components_are_part_of_their_job(tmp_path):
    neumf = {"name": "neumf", "pretrain": True}
    for num in (0, 1):
        job = tmp_path / "sw" / str(num)
        make_run(
            job, neumf, "ce", "ml100k", num, scored(0.2) if num == 0 else None
        )  # 1 failed in fine-tuning
        component(job, "gmf", 0.28)
        component(job, "mlp", 0.31)  # better than NeuMF-p itself on validation
    jobs = find_jobs(tmp_path / "sw")
    assert [job.path.name for job in jobs] == ["0", "1"]
    assert best_job(tmp_path / "sw").path == tmp_path / "sw" / "0"
    # Tables show the components beside their job, labelled as its parts, never as tuned baselines.
    report = aggregate(jobs, "table2")
    assert report.factors == ["NeuMF-p", "GMF (NeuMF-p part)", "MLP (NeuMF-p part)"]
    assert len(report.failed) == 1
    assert "6 runs from" in report.markdown() and "5 completed, 1 failed" in report.markdown()
    # A part carries its job's overrides, so a grid's rows keep each job's parts apart.
    parts = [job for job in with_components(jobs) if job.part_of]
    assert [part.overrides for part in parts] == [jobs[0].overrides] * 2 + [jobs[1].overrides] * 2
    assert jobs[0].overrides != jobs[1].overrides


# 2. A sweep folder used again.


def rerun_into_used_folder(sweep: Path) -> None:
    """A 6-job grid (seeds 0..5), then a 1-job sweep (seed 9) into the same folder: job 0 rewritten."""
    write_multirun(sweep, "data=ml100k", "seed=0,1,2,3,4,5")
    for num in range(6):
        sweep_job(sweep, num, num, 0.3 + num / 100)
    write_multirun(sweep, "data=ml100k", "seed=9")
    shutil.rmtree(sweep / "0")  # Hydra overwrites its files
    sweep_job(sweep, 0, 9, 0.1)


def test_a_reused_sweep_folder_holds_only_its_latest_sweep(tmp_path, caplog):
    sweep = tmp_path / "tuning"
    rerun_into_used_folder(sweep)
    with caplog.at_level(logging.WARNING):
        jobs = find_jobs(sweep)
    assert [job.overrides for job in jobs] == [["data=ml100k", "seed=9"]]
    assert "left out 5 job folder(s) from an earlier sweep" in caplog.text
    assert best_job(sweep).overrides == ["data=ml100k", "seed=9"]  # not job 5 of the old grid (0.35)


def test_the_end_of_sweep_callback_reports_only_the_sweep_that_ran(tmp_path):
    sweep = tmp_path / "tuning"
    rerun_into_used_folder(sweep)
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep)}}, "report": None, "logger": None})
    ReportOnMultirunEnd().on_multirun_end(config)
    assert f"1 runs from `{sweep}`: 1 completed, 0 failed." in (sweep / "table.md").read_text()


def test_sweeps_below_a_folder_are_each_read_by_their_own_grid(tmp_path):
    params = {"data": "ml100k", "seed": "0,1"}  # an experiment config's; the command line overrides them
    for name, task, seeds in (("a", [], (0, 1)), ("b", ["seed=7"], (7,))):
        write_multirun(tmp_path / "day" / name, *task, params=params)
        for num, seed in enumerate(seeds):
            sweep_job(tmp_path / "day" / name, num, seed, 0.3)
    sweep_job(tmp_path / "day" / "b", 1, 1, 0.9)  # left by an earlier sweep into b
    jobs = find_jobs(tmp_path / "day")
    assert [str(job.path.relative_to(tmp_path / "day")) for job in jobs] == ["a/0", "a/1", "b/0"]


def test_a_job_killed_in_a_rerun_keeps_no_metrics_of_the_earlier_run(tmp_path):
    sweep = tmp_path / "tuning"
    write_multirun(sweep, "data=ml100k", "seed=3")
    sweep_job(sweep, 0, 0, 0.5)  # the earlier sweep's seed 0 finished here
    (sweep / "0" / ".hydra" / "overrides.yaml").write_text("- data=ml100k\n- seed=3\n")  # the rerun's start
    (job,) = find_jobs(sweep)
    assert not job.completed and "earlier run" in job.record["error"]


# 3. NAME=DIR takes the runs made for table NAME.


def mixed_day(folder: Path) -> None:
    """outputs/runs/<date> after a W&B sweep for Table 4 and unrelated single runs the same day."""
    for seed in (0, 1):
        make_run(folder / f"t4-{seed}", *DMF, "ml100k", seed, metrics_for(0.6), report="table4")
    make_run(folder / "itempop", {"name": "itempop"}, "nce", "ml100k", 0, metrics_for(0.1))
    make_run(folder / "ease", {"name": "ease"}, "nce", "ml100k", 0, metrics_for(0.9))
    make_run(folder / "t2", *DMF, "ml100k", 0, metrics_for(0.2), report="table2")


def test_a_named_folder_gives_only_the_runs_of_its_table(tmp_path):
    mixed_day(tmp_path / "runs")
    assert main([f"table4={tmp_path / 'runs'}", "--out", str(tmp_path / "out")]) == 0
    text = (tmp_path / "out" / "table.md").read_text()
    assert "2 runs from" in text and "| 7 | 0.6000 ± 0.0000 | 0.3000 ± 0.0000 |" in text
    assert "left out 3 of 5 runs of" in text
    assert "DMF-2-nce (report=table2), EASE (report=null), ItemPop (report=null)" in text

    out = tmp_path / "docs" / "results.md"
    write_results([("table4", tmp_path / "runs")], out)
    table4 = out.read_text().split("## Table 4")[1].split("## Table 5")[0]
    assert "| 7 | 0.6000 ± 0.0000 |" in table4 and "left out 3 of 5 runs" in table4


def test_a_single_run_named_for_a_table_is_filed_under_it_whatever_it_was_made_for(tmp_path):
    # As docs/results.md files Table 4's ratio-7 jobs (DMF-2-nce at the paper's settings) under Table 2.
    mixed_day(tmp_path / "runs")
    assert main([f"table2={tmp_path / 'runs' / 't4-0'}", "--out", str(tmp_path / "out")]) == 0
    text = (tmp_path / "out" / "table.md").read_text()
    assert "1 runs from" in text and "DMF-2-nce" in text and "left out" not in text


# 4. No runs.


def test_a_folder_without_runs_is_an_error_and_writes_nothing(tmp_path, caplog):
    (tmp_path / "empty").mkdir()
    with caplog.at_level(logging.ERROR):
        assert main([str(tmp_path / "empty")]) == 1
    assert "no runs found in" in caplog.text
    assert not list((tmp_path / "empty").iterdir())
    make_run(tmp_path / "t2" / "run", *DMF, "ml100k", 0, metrics_for(0.2), report="table2")
    assert main([f"table4={tmp_path / 't2'}", "--out", str(tmp_path / "out")]) == 1  # no run for Table 4
    assert not (tmp_path / "out").exists()
    with pytest.raises(NoRunsError, match="empty"):
        write_results([(None, tmp_path / "t2"), (None, tmp_path / "empty")], tmp_path / "results.md")
    assert not (tmp_path / "results.md").exists()
