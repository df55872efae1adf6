"""``python -m deepmf.reproduce`` end to end: every sweep of the manifest (tiny profile, one seed) on
synthetic data, then the results document, whose cells must be the jobs' own metrics.json values."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from deepmf.report.refresh import sections_by_marker
from tests.integration.test_train_cli import ROOT

PLAN_ROW = re.compile(r"^\| ([\w/]+) \((\w+)\) \| (\d+) \| [\d:]+ \| (\S+) \| (\d+) \|$", re.MULTILINE)


def reproduce(tmp_path: Path, data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DEEPMF_DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT / "src"), WANDB_MODE="offline")
    command = [
        sys.executable, "-m", "deepmf.reproduce", "data=ml100k", "seeds=0", "profile=tiny",
        f"root={tmp_path}/sweeps", f"out={tmp_path}/doc/results.md",
        "logger=none", "data.eval_negatives=20", f"paths.cache_dir={tmp_path}/cache", *args,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)


def records(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*/metrics.json"))]


def table_rows(section: str, heading: str) -> dict[str, list[str]]:
    """The rows (first cell -> other cells) of the table under the ``#### <heading>...`` heading; each cell's
    value without its bold, bootstrap interval or significance marker."""
    lines = section.split(f"#### {heading}", 1)[1].split("####", 1)[0].splitlines()
    rows = [
        [c.split(" [")[0].strip().strip("*") for c in line.strip("|").split("|")]
        for line in lines
        if line.startswith("|")
    ]
    return {row[0]: row[1:] for row in rows[2:]}  # header and |---| rows dropped


def test_whole_paper_tiny_profile_writes_the_jobs_numbers(tmp_path, ml100k_dir):
    result = reproduce(tmp_path, ml100k_dir)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    # The plan named every manifest entry; each sweep folder holds exactly the jobs the plan counted.
    rows = PLAN_ROW.findall(result.stdout)
    planned = {name: (int(jobs), Path(folder)) for name, _, jobs, folder, _ in rows}
    assert all(done == "0" for *_, done in rows)
    assert set(planned) == {"tuning/dmf", "table1", "table2", "table3", "table4", "table5", "figure2", "runs"}
    for name, (jobs, folder) in planned.items():
        found = records(folder)
        assert len(found) == jobs, name
        assert all(r["status"] == "completed" for r in found), name
        # The profile's one epoch (eALS runs its model.iterations whatever max_epochs says).
        assert all(r["epochs_trained"] == 1 for r in found if r["model"] not in ("eals", None)), name
    total = sum(jobs for jobs, _ in planned.values())
    assert f"all sweeps: {total}/{total} jobs" in result.stdout

    sections = sections_by_marker((tmp_path / "doc" / "results.md").read_text())
    # Table 3: one row per method; one seed, so each cell is that job's metric.
    table3 = records(planned["table3"][1])
    labels = {"lfm_nce": "LFM-nce", "dmf1_nce": "DMF-1-nce"}
    for heading, (hr, ndcg) in {
        "Sampled": ("test/hr@10", "test/ndcg@10"),
        "Full": ("test/full_hr@10", "test/full_ndcg@10"),
    }.items():
        rows = table_rows(sections["table3"], heading)
        for record in table3:
            method = next(o.split("=")[1] for o in record["overrides"] if o.startswith("method="))
            assert rows[labels[method]] == [f"{record['metrics'][hr]:.4f}", f"{record['metrics'][ndcg]:.4f}"]
    # Table 5: one row per number of factors.
    rows = table_rows(sections["table5"], "Sampled")
    for record in records(planned["table5"][1]):
        factors = str(record["config"]["model"]["factors"])
        assert rows[factors] == [
            f"{record['metrics']['test/hr@10']:.4f}",
            f"{record['metrics']['test/ndcg@10']:.4f}",
        ]
    # Table 1: the synthetic file's statistics.
    (stats,) = records(planned["table1"][1])
    assert f"| users | {stats['dataset']['users']:,} |" in sections["table1"]
    # The single run (DMF-2-nce at the profile's settings) is the document's "Other runs".
    (run,) = records(planned["runs"][1])
    assert f"{run['metrics']['test/hr@10']:.4f}" in sections["runs"]

    # The same command again: the plan counts every job as done, and the rerun keeps them untouched.
    before = {p: p.read_bytes() for p in planned["table3"][1].glob("*/metrics.json")}
    again = reproduce(tmp_path, ml100k_dir, "only=table3")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    ((*_, done),) = PLAN_ROW.findall(again.stdout)
    assert int(done) == planned["table3"][0] == len(before)
    assert {p: p.read_bytes() for p in before} == before


def test_a_failed_sweep_is_reported_and_the_document_still_written(tmp_path, ml100k_dir):
    # seed "oops" passes composition but makes Lightning raise in every job of the sweep.
    result = reproduce(tmp_path, ml100k_dir, "only=table3", "seeds=oops")
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "0 completed, 2 failed of 2 jobs; train.py exited with status 1" in result.stdout
    assert "reproduce.log" in result.stdout
    table3 = sections_by_marker((tmp_path / "doc" / "results.md").read_text())["table3"]
    assert "2 failed" in table3 and "seed=oops" in table3
