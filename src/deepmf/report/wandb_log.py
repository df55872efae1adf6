"""Log a report to W&B as tables (and the figure), in the group of the sweep's runs."""

from __future__ import annotations

import os
from pathlib import Path

from deepmf.report.aggregate import Report


def log_report(
    report: Report, folder: Path, project: str = "deepmf", group: str | None = None, mode: str = "offline"
) -> Path | None:
    """One W&B run (job_type ``report``) holding the aggregate tables; returns its local folder."""
    import wandb

    os.environ.setdefault("WANDB_SILENT", "true")
    name = report.layout.name
    run = wandb.init(
        project=project,
        group=group or name,
        job_type="report",
        name=f"{group or name}-report",
        dir=str(folder),
        mode=mode,
        config={"layout": name, "sources": [str(s) for s in report.sources]},
    )
    try:
        payload: dict[str, object] = {
            "summary": wandb.Table(dataframe=report.summary.astype(str)),
        }
        if report.layout.statistics:
            header, rows = report.statistics_table()
            payload[name] = wandb.Table(columns=header, data=rows)
        else:
            payload["cells"] = wandb.Table(dataframe=report.cells())
            for protocol in ("sampled", "full"):
                header, rows = report.table(protocol)
                payload[f"{name}/{protocol}"] = wandb.Table(
                    columns=header, data=[[c.replace("**", "") for c in row] for row in rows]
                )
        figure = folder / "figure2.png"
        if report.layout.figure and figure.is_file():
            payload["figure2"] = wandb.Image(str(figure))
        run.log(payload)
        run.summary.update({"runs": len(report.jobs), "failed": len(report.failed)})
        return Path(run.dir).parent
    finally:
        run.finish(exit_code=0)
