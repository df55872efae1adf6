"""A failing run is recorded in metrics.json; a single run exits non-zero (sweeps: test_experiment_sweep)."""

from __future__ import annotations

import json

from tests.integration.test_train_cli import run_train


def test_single_run_failure_still_exits_nonzero(tmp_path, ml100k_dir):
    result = run_train(tmp_path, ml100k_dir, "seed=oops", "logger=none")
    assert result.returncode != 0
    record = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert record["status"] == "failed" and record["error"].startswith("ValueError")
