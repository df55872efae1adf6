"""``python -m deepmf.report.best <sweep dir>``: the job a tuning sweep selects, on validation only.

Prints the overrides of the completed job with the highest ``val/ndcg@10`` (or ``--monitor``) and its
validation score; test metrics are never looked at to choose.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from deepmf.report.collect import Job, find_jobs


def best_job(folder: Path, monitor: str = "val/ndcg@10") -> Job:
    """The completed job with the highest ``monitor`` (the first of equals, in job order)."""
    scored = [job for job in find_jobs(folder) if job.completed and monitor in job.metrics]
    if not scored:
        raise SystemExit(f"{folder}: no completed job recorded {monitor}")
    return max(scored, key=lambda job: job.metrics[monitor])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--monitor", default="val/ndcg@10")
    args = parser.parse_args(argv)
    job = best_job(args.folder, args.monitor)
    print(f"{args.monitor}={job.metrics[args.monitor]:.4f} {job.path}")
    print(" ".join(job.overrides))


if __name__ == "__main__":
    main()
