"""``python -m deepmf.report``: re-aggregate finished sweeps, or write the results document.

    python -m deepmf.report outputs/multirun/2025-01-01/10-00-00-000000     # in place: table.md, ...
    python -m deepmf.report DIR1 DIR2 --out reports/table2 --layout table2  # pool runs of several folders
    python -m deepmf.report --results docs/results.md DIR ... table2=RUN_DIR ...

A folder is a sweep (its job folders are found below it) or a single run. ``NAME=DIR`` files the runs
of DIR under layout NAME (e.g. baselines trained as single runs for Table 2).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from deepmf.report.aggregate import aggregate, write_report
from deepmf.report.collect import find_jobs
from deepmf.report.layouts import LAYOUTS

log = logging.getLogger("deepmf.report")


def parse_source(text: str) -> tuple[str | None, Path]:
    name, sep, folder = text.partition("=")
    if sep and name in LAYOUTS:
        return name, Path(folder)
    return None, Path(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deepmf.report", description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="+", help="sweep or run folders, optionally NAME=FOLDER")
    parser.add_argument("--layout", choices=sorted(LAYOUTS), help="table layout (default: the runs' own)")
    parser.add_argument("--out", type=Path, help="pool all folders into one report written here")
    parser.add_argument("--results", type=Path, help="write the results document (docs/results.md)")
    parser.add_argument("--template", type=Path, help="results template (default: docs/results.template.md)")
    parser.add_argument("--wandb", action="store_true", help="log the tables to W&B (offline by default)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    sources = [parse_source(text) for text in args.folders]
    missing = [str(folder) for _, folder in sources if not folder.is_dir()]
    if missing:
        parser.error(f"not a folder: {', '.join(missing)}")

    if args.results:
        from deepmf.report.results import write_results

        write_results(sources, args.results, args.template)
        log.info("wrote %s", args.results)
        return 0

    groups = [[folder for _, folder in sources]] if args.out else [[folder] for _, folder in sources]
    for folders in groups:
        jobs = [job for folder in folders for job in find_jobs(folder)]
        layout = args.layout or next((name for name, f in sources if name and f in folders), None)
        report = aggregate(jobs, layout, sources=folders)
        out = args.out or folders[0]
        written = write_report(report, out)
        if args.wandb:
            from deepmf.report.wandb_log import log_report

            log_report(report, out, mode=os.environ.get("WANDB_MODE", "offline"))
        print(report.markdown())
        log.info("wrote %s", ", ".join(str(p) for p in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
