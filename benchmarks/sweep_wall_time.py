"""Wall time of one paper table swept serially and through Hydra's joblib launcher, side by side.

    python benchmarks/sweep_wall_time.py                               # Table 3 on ML-100k, seeds 0,1,2
    python benchmarks/sweep_wall_time.py --n-jobs 2 --out docs/benchmarks/sweep_launchers.md
    python benchmarks/sweep_wall_time.py --extra trainer.max_epochs=1   # a quick check of the script

Both sweeps run the same command (`python train.py experiment=<table> data=<data> seed=<seeds>`), once with
the basic (serial) launcher and once with `hydra/launcher=joblib hydra.launcher.n_jobs=N`, each in a fresh
process, into folders of their own that share one split cache. The joblib sweep runs first, so it is the one
that pays for building the split. The table compares wall times and checks that both sweeps give the same
metrics per job (largest absolute difference over every job and metric of summary.csv).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
METRICS = ["val/ndcg@10", "test/hr@10", "test/ndcg@10", "test/full_hr@10", "test/full_ndcg@10"]


def sweep(
    folder: Path, cache: Path, args: argparse.Namespace, launcher: list[str]
) -> tuple[float, pd.DataFrame]:
    """Run the table's sweep into ``folder``; return its wall time and summary.csv."""
    command = [
        sys.executable, "train.py", f"experiment={args.table}", f"data={args.data}", f"seed={args.seeds}",
        "logger=csv", f"hydra.sweep.dir={folder}", f"paths.cache_dir={cache}", *launcher, *args.extra,
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed (exit {done.returncode}):\n{done.stdout[-3000:]}")
    summary = pd.read_csv(folder / "summary.csv")
    if not (summary["status"] == "completed").all():
        raise SystemExit(f"{folder}: not every job completed:\n{summary[['job', 'status', 'error']]}")
    return seconds, summary.sort_values(["method", "seed"]).reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--table", default="table3")
    parser.add_argument("--data", default="ml100k")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--extra", nargs="*", default=[], help="more train.py overrides for both sweeps")
    parser.add_argument("--out", type=Path, help="write the markdown table here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        joblib = ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={args.n_jobs}"]
        parallel_s, parallel = sweep(root / "joblib", root / "cache", args, joblib)
        serial_s, serial = sweep(root / "serial", root / "cache", args, [])
    if list(serial["method"]) != list(parallel["method"]) or list(serial["seed"]) != list(parallel["seed"]):
        raise SystemExit("the two sweeps ran different jobs")
    difference = (serial[METRICS] - parallel[METRICS]).abs().to_numpy().max()
    jobs = len(serial)
    lines = [
        f"`python train.py experiment={args.table} data={args.data} seed={args.seeds}"
        f"{' ' + ' '.join(args.extra) if args.extra else ''}`: {jobs} jobs "
        f"({', '.join(sorted(set(serial['method'])))}).",
        "",
        "| launcher | wall time s | ratio to serial | summed job wall time s |",
        "|---|---:|---:|---:|",
        f"| basic (serial) | {serial_s:.0f} | 1.00 | {serial['wall_time_s'].sum():.0f} |",
        f"| joblib, n_jobs={args.n_jobs} | {parallel_s:.0f} | {parallel_s / serial_s:.2f} "
        f"| {parallel['wall_time_s'].sum():.0f} |",
        "",
        f"Largest absolute difference between the two sweeps' metrics ({', '.join(METRICS)}) over the "
        f"{jobs} jobs: {difference:.2g}.",
    ]
    print("\n".join(lines))
    if args.out:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from provenance import write_report

        write_report(args.out, lines)


if __name__ == "__main__":
    main()
