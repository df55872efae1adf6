"""Run one sweep of the plan as its own ``python train.py -m ...`` process and report progress across jobs."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from deepmf.report.collect import find_jobs
from deepmf.reproduce.plan import Sweep, duration

TRAIN_PY = Path(__file__).resolve().parents[3] / "train.py"
LOG_NAME = "reproduce.log"


def finished_since(folder: Path, started: float) -> int:
    """Jobs of a sweep folder whose metrics.json was written since ``started`` with a final status."""
    count = 0
    for path in folder.glob("*/metrics.json"):
        try:
            if path.stat().st_mtime >= started and json.loads(path.read_text())["status"] != "running":
                count += 1
        except (OSError, ValueError, KeyError):
            continue  # being replaced right now: counted at the next poll
    return count


def run_sweep(sweep: Sweep, report: Callable[[int], None], poll_s: float = 2.0) -> int:
    """Run the sweep into its folder (output in ``<folder>/reproduce.log``); call ``report(n)`` whenever
    the number of its jobs finished so far changes. Returns train.py's exit status."""
    sweep.folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(TRAIN_PY), "-m", *sweep.overrides, f"hydra.sweep.dir={sweep.folder}"]
    started, seen = time.time() - 1, 0  # mtimes can be a little coarser than the clock
    with open(sweep.folder / LOG_NAME, "w", encoding="utf-8") as log:
        log.write(" ".join(command) + "\n")
        log.flush()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        while process.poll() is None:
            time.sleep(poll_s)
            done = finished_since(sweep.folder, started)
            if done != seen:
                seen = done
                report(done)
    return process.returncode


def outcome(sweep: Sweep, returncode: int, seconds: float) -> tuple[int, str]:
    """The sweep's jobs in its folder (completed and failed) and a line that says how it went."""
    jobs = find_jobs(sweep.folder) if any(sweep.folder.glob("*/metrics.json")) else []
    completed = sum(job.completed for job in jobs)
    line = (
        f"{sweep.name} finished in {duration(seconds)} (estimated {duration(sweep.wall_seconds)}): "
        f"{completed} completed, {len(jobs) - completed} failed of {sweep.jobs} jobs"
    )
    if returncode != 0:
        line += f"; train.py exited with status {returncode}, see {sweep.folder / LOG_NAME}"
    return len(jobs), line
