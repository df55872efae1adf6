"""The Hydra callback that aggregates a multirun when it ends (configured in conf/train.yaml)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from deepmf.report.aggregate import aggregate, write_report
from deepmf.report.collect import find_jobs

log = logging.getLogger(__name__)


class ReportOnMultirunEnd(Callback):
    """Write summary.csv, aggregate.csv, table.md (figure2.png) into the sweep folder; log them to W&B.

    Every job has ended by now (failed jobs leave ``metrics.json`` with status ``failed``). If any job
    failed, the process exits with status 1 after the report is written, so scripts notice.

    Only this sweep's jobs are aggregated, also in a reused ``hydra.sweep.dir``: ``find_jobs`` keeps the
    job folders that the grid of the folder's ``multirun.yaml`` (which this sweep wrote when it started)
    lists, with their job numbers and overrides, and leaves out those of earlier sweeps. Reading the
    files, rather than counting ``on_job_end`` calls, works for any launcher and gives the same jobs as
    ``python -m deepmf.report`` and ``deepmf.report.best`` on the folder later.
    """

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        folder = Path(config.hydra.sweep.dir)
        report = aggregate(find_jobs(folder), config.get("report"), sources=[folder])
        written = write_report(report, folder)
        logger = config.get("logger") or {}
        if logger.get("name") == "wandb" and logger.get("mode", "offline") != "disabled":
            try:
                from deepmf.report.wandb_log import log_report

                log_report(
                    report,
                    folder,
                    logger.get("project", "deepmf"),
                    logger.get("group"),
                    logger.get("mode", "offline"),
                )
            except Exception:  # the files above are the record; W&B is a copy
                log.exception("could not log the report to W&B")
        print(report.markdown())
        log.info("report: %s", ", ".join(str(p) for p in written))
        if report.failed:
            log.error(
                "%d of %d jobs failed: see %s", len(report.failed), len(report.jobs), folder / "table.md"
            )
            sys.exit(1)
