"""``python -m deepmf.report``: re-aggregate finished sweeps, or write the results document.

    python -m deepmf.report outputs/multirun/2025-01-01/10-00-00-000000     # in place: table.md, ...
    python -m deepmf.report DIR1 DIR2 --out reports/table2 --layout table2  # pool runs of several folders
    python -m deepmf.report --results docs/results.md DIR ... table2=RUN_DIR ...
    python -m deepmf.report --refresh docs/results.md   # new template and benchmarks, run tables kept
    python -m deepmf.report --refresh docs/results.md --take table3=t3.md   # one table from a new sweep

A folder is a sweep (its job folders are found below it) or a single run. ``NAME=DIR`` files the runs
of DIR made for layout NAME under it (``report=NAME``; if none is, DIR's runs made for no layout, e.g.
baselines trained as single runs for Table 2); the others are left out, and the report says so. A single
run given as ``NAME=RUN`` is filed under NAME whatever it was made for. A folder without runs is an error:
nothing is written and the exit status is 1.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from deepmf.report.aggregate import aggregate, write_report
from deepmf.report.collect import NoRunsError, Source, check_runs_found, load_source
from deepmf.report.layouts import LAYOUTS

log = logging.getLogger("deepmf.report")


def parse_source(text: str) -> tuple[str | None, Path]:
    name, sep, folder = text.partition("=")
    if sep and name in LAYOUTS:
        return name, Path(folder)
    return None, Path(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deepmf.report", description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="*", help="sweep or run folders, optionally NAME=FOLDER")
    parser.add_argument("--layout", choices=sorted(LAYOUTS), help="table layout (default: the runs' own)")
    parser.add_argument("--out", type=Path, help="pool all folders into one report written here")
    parser.add_argument("--results", type=Path, help="write the results document (docs/results.md)")
    parser.add_argument("--template", type=Path, help="results template (default: docs/results.template.md)")
    parser.add_argument(
        "--refresh",
        type=Path,
        help="re-render this results document from the template, keeping its run tables (no folders)",
    )
    parser.add_argument(
        "--previous-template",
        type=Path,
        help="with --refresh, for a document without section markers: the template it was generated from",
    )
    parser.add_argument(
        "--take",
        action="append",
        default=[],
        metavar="SECTION=DOCUMENT",
        help="with --refresh: replace this run section by the one in another results document "
        "(e.g. table3=outputs/t3.md, written by python -m deepmf.reproduce only=table3 out=...)",
    )
    parser.add_argument("--wandb", action="store_true", help="log the tables to W&B (offline by default)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    if args.refresh:
        if args.folders:
            parser.error("--refresh takes no folders: it keeps the document's run tables")
        return refresh_document(args)
    if not args.folders:
        parser.error("give at least one sweep or run folder")
    named_folders = [parse_source(text) for text in args.folders]
    missing = [str(folder) for _, folder in named_folders if not folder.is_dir()]
    if missing:
        parser.error(f"not a folder: {', '.join(missing)}")
    try:
        if args.results:
            from deepmf.report.results import write_results

            write_results(named_folders, args.results, args.template)
            log.info("wrote %s", args.results)
            return 0
        sources = [load_source(name, folder) for name, folder in named_folders]
        check_runs_found(sources)
    except NoRunsError as exc:
        log.error("%s", exc)
        return 1
    write_reports(sources, args)
    return 0


def refresh_document(args: argparse.Namespace) -> int:
    """``--refresh``: the template and the included benchmark files anew, the run tables as they were."""
    from deepmf.report.refresh import RefreshError, refresh
    from deepmf.report.results import DEFAULT_TEMPLATE

    taken = {}
    for text in args.take:
        name, sep, document = text.partition("=")
        if not sep or not name or not document:
            log.error("--take wants SECTION=DOCUMENT, got %r", text)
            return 1
        taken[name] = Path(document)
    try:
        kept = refresh(args.refresh, args.template or DEFAULT_TEMPLATE, args.previous_template, taken)
    except (OSError, RefreshError) as exc:
        log.error("%s", exc)
        return 1
    log.info("wrote %s (run sections kept: %s)", args.refresh, ", ".join(kept))
    return 0


def write_reports(sources: list[Source], args: argparse.Namespace) -> None:
    """One report per folder, or one of them all into ``--out``."""
    groups = [sources] if args.out else [[source] for source in sources]
    for group in groups:
        jobs = [job for source in group for job in source.jobs]
        layout = args.layout or next((source.name for source in group if source.name), None)
        notes = [note for source in group if (note := source.note())]
        for note in notes:
            log.warning("%s", note)
        folders = [source.folder for source in group]
        report = aggregate(jobs, layout, sources=folders, notes=notes)
        out = args.out or folders[0]
        written = write_report(report, out)
        if args.wandb:
            from deepmf.report.wandb_log import log_report

            log_report(report, out, mode=os.environ.get("WANDB_MODE", "offline"))
        print(report.markdown())
        log.info("wrote %s", ", ".join(str(p) for p in written))


if __name__ == "__main__":
    sys.exit(main())
