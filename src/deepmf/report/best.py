"""``python -m deepmf.report.best <sweep dir>``: the job a tuning sweep selects, on validation only.

Prints the overrides of the completed job with the highest validation score and that score: the metric
the jobs selected their epochs on (``selection.monitor``, ``val/ndcg@10`` by default) or ``--monitor``.
Test metrics are never looked at to choose. ``--write PATH`` also writes the chosen values and the sweep's
budget as YAML where the tuned methods read them (``conf/hparams/tuned/<data>/<method>.yaml``: see
``deepmf.report.tuned``). Only the jobs of the folder's latest sweep compete: the job
folders an earlier sweep into the same folder left are named in a warning and left out.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from deepmf.report.collect import find_jobs
from deepmf.report.job import Job

DEFAULT_MONITOR = "val/ndcg@10"


def best_job(folder: Path, monitor: str | None = None) -> Job:
    """The completed job of ``folder`` with the highest ``monitor`` (default: ``selection_monitor``)."""
    jobs = find_jobs(folder)
    return pick_best(jobs, monitor or selection_monitor(jobs), folder)


def pick_best(jobs: list[Job], monitor: str, folder: Path) -> Job:
    """The completed job with the highest ``monitor`` (the first of equals, in job order)."""
    scored = [job for job in jobs if job.completed and monitor in job.metrics]
    if not scored:
        raise SystemExit(f"{folder}: no completed job recorded {monitor}")
    return max(scored, key=lambda job: job.metrics[monitor])


def selection_monitor(jobs: list[Job]) -> str:
    """The metric the completed jobs selected their epochs on, if they agree; else ``val/ndcg@10``."""
    monitors = {job.value("selection.monitor") for job in jobs if job.completed} - {None}
    return str(monitors.pop()) if len(monitors) == 1 else DEFAULT_MONITOR


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--monitor", help="validation metric (default: the jobs' selection.monitor)")
    parser.add_argument(
        "--write", type=Path, help="write the chosen values (conf/hparams/tuned/<data>/<m>.yaml)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    jobs = find_jobs(args.folder)
    monitor = args.monitor or selection_monitor(jobs)
    job = pick_best(jobs, monitor, args.folder)
    print(f"{monitor}={job.metrics[monitor]:.4f} {job.path}")
    print(" ".join(job.overrides))
    if args.write:
        from deepmf.report.tuned import write_tuned

        write_tuned(args.folder, args.write, monitor)
        print(f"wrote {args.write}")


if __name__ == "__main__":
    main()
