"""An experiment config end to end: a tiny Table 4 sweep on synthetic data, aggregated by the callback."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_train_cli import ROOT, SMALL_DMF, run_train
from tests.wandb_records import run_summary

PROTOCOL_METRICS = {
    "Sampled": ("test/hr@10", "test/ndcg@10"),
    "Full": ("test/full_hr@10", "test/full_ndcg@10"),
}


def markdown_tables(text: str) -> dict[str, list[list[str]]]:
    """Each ``## heading``'s first table as rows of cells (header row first)."""
    tables, heading = {}, None
    for line in text.splitlines():
        if line.startswith("#"):
            heading = line.lstrip("# ").split(" ")[0]
        elif line.startswith("|") and not line.startswith("|---") and heading:
            tables.setdefault(heading, []).append([c.strip() for c in line.strip("|").split(" | ")])
    return tables


def expected_cell(values: list[float], jobs: int) -> str:
    text = f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"
    return text if len(values) == jobs else f"{text} ({len(values)}/{jobs})"


def run_table4_sweep(tmp_path: Path, data_dir: Path, logger: str) -> tuple[Path, dict[str, dict]]:
    """Run the sweep; check summary.csv, table.md and re-aggregation; return the completed records."""
    # No -m: experiment=table4 makes it a multirun. seed "oops" makes Lightning raise a ValueError
    # (not a DeepMFError): those jobs fail, the others and the report go on, and the exit status is 1.
    result = run_train(
        tmp_path, data_dir, "experiment=table4", "data=ml100k", "data.neg_ratio=1,2", "seed=0,1,oops",
        f"logger={logger}", *SMALL_DMF,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr[-3000:]
    sweep = tmp_path / "multirun"
    records = {p.parent.name: json.loads(p.read_text()) for p in sweep.glob("*/metrics.json")}
    assert len(records) == 6
    failed = {job for job, r in records.items() if r["status"] == "failed"}
    assert len(failed) == 2 and all("ValueError" in records[job]["error"] for job in failed)
    done = {job: r for job, r in records.items() if r["status"] == "completed"}
    assert len(done) == 4

    # summary.csv: one row per job, statuses as in metrics.json.
    import pandas as pd

    summary = pd.read_csv(sweep / "summary.csv")
    assert len(summary) == 6
    assert {Path(j).name: s for j, s in zip(summary["job"], summary["status"])} == {
        job: r["status"] for job, r in records.items()
    }

    # table.md: rows neg. ratio 1, 2; columns ML100k HR / NDCG; mean ± stdev of the completed seeds.
    text = (sweep / "table.md").read_text()
    tables = markdown_tables(text)
    for protocol, (hr, ndcg) in PROTOCOL_METRICS.items():
        header, *rows = tables[protocol]
        assert header == ["neg. ratio", "ML100k HR@10", "ML100k NDCG@10"]
        assert [row[0] for row in rows] == ["1", "2"]
        for row in rows:
            ratio = int(row[0])
            runs = [r for r in done.values() if r["config"]["data"]["neg_ratio"] == ratio]
            assert len(runs) == 2
            for cell, metric in zip(row[1:], (hr, ndcg)):
                # The cell, then the bootstrap interval over users of its completed runs (per_user.npz).
                value, interval = cell.split(" [", 1)
                assert value.strip("*") == expected_cell([r["metrics"][metric] for r in runs], jobs=3)
                low, high = (float(x) for x in interval.split("]")[0].split(", "))
                assert low <= high
    failed_rows = tables["Failed"][1:]
    assert sorted(row[0] for row in failed_rows) == sorted(failed)
    assert all("seed=oops" in row[1] for row in failed_rows)

    # Re-aggregating the finished sweep reproduces the same table.
    (sweep / "table.md").unlink()
    again = subprocess.run(
        [sys.executable, "-m", "deepmf.report", str(sweep)], capture_output=True, text=True, cwd=ROOT
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert (sweep / "table.md").read_text() == text
    return sweep, done


def test_table4_sweep_aggregates_every_job(tmp_path, ml100k_dir):
    run_table4_sweep(tmp_path, ml100k_dir, logger="none")


@pytest.mark.slow
def test_table4_sweep_logs_to_wandb(tmp_path, ml100k_dir):
    sweep, done = run_table4_sweep(tmp_path, ml100k_dir, logger="wandb")
    # W&B: every completed job is an offline run in the group "table4" with its final metrics in the
    # summary; the report is a run of the same group holding the tables.
    for job, record in done.items():
        (run_file,) = (sweep / job / "wandb").glob("offline-run-*/run-*.wandb")
        run, wandb_summary = run_summary(run_file)
        assert run.run_group == "table4"
        assert float(wandb_summary["test/ndcg@10"]) == record["metrics"]["test/ndcg@10"]
        assert float(wandb_summary["val/ndcg@10"]) == record["metrics"]["val/ndcg@10"]
    (report_file,) = (sweep / "wandb").glob("offline-run-*/run-*.wandb")
    run, wandb_summary = run_summary(report_file)
    assert (run.run_group, run.job_type) == ("table4", "report")
    assert json.loads(wandb_summary["table4/sampled/nrows"]) == 2
    assert json.loads(wandb_summary["failed"]) == 2


def test_a_sweep_into_a_used_folder_reports_and_selects_only_its_own_jobs(tmp_path, ml100k_dir):
    """The README's tuning command reuses ``hydra.sweep.dir``: a smaller second sweep there (its grid from
    an experiment config's params and the command line) must not mix in the first sweep's jobs."""
    for ratios in ("1,2,3", "4"):
        result = run_train(
            tmp_path, ml100k_dir, "experiment=table4", "data=ml100k", f"data.neg_ratio={ratios}", "seed=0",
            "logger=none", *SMALL_DMF,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
    sweep = tmp_path / "multirun"
    assert sorted(p.parent.name for p in sweep.glob("*/metrics.json")) == ["0", "1", "2"]
    tables = markdown_tables((sweep / "table.md").read_text())
    assert [row[0] for row in tables["Sampled"][1:]] == ["4"]
    assert "1 runs from" in (sweep / "table.md").read_text()

    best = subprocess.run(
        [sys.executable, "-m", "deepmf.report.best", str(sweep)], capture_output=True, text=True, cwd=ROOT
    )
    assert best.returncode == 0, best.stderr[-3000:]
    assert "data.neg_ratio=4" in best.stdout.splitlines()[1].split()
    assert "left out 2 job folder(s) from an earlier sweep into this folder (1, 2)" in best.stderr
