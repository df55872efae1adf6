"""Runs -> one row per job (summary.csv) -> mean ± std over seeds per cell -> the paper's table (markdown)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepmf.data.interactions import POLICY_COUNTS
from deepmf.evaluation.per_user import FILENAME as PER_USER_FILE
from deepmf.io import write_atomic
from deepmf.report.collect import name_datasets, with_components
from deepmf.report.job import Job
from deepmf.report.layouts import (
    MEASURES,
    PROTOCOLS,
    Layout,
    dataset_order,
    dataset_title,
    get_layout,
)
from deepmf.report.significance import ALPHA, INDISTINGUISHABLE, Significance, compute, format_p

#: Overrides that do not change what a cell measures (seeds are what cells aggregate over).
IGNORED_OVERRIDES = (
    "seed", "logger", "paths", "hydra", "progress_refresh_rate", "resume", "rerun", "report", "experiment"
)  # fmt: skip
#: Group choices whose effect the method label already names.
NAMED_BY_METHOD = ("method", "model", "loss")
METRIC_COLUMNS = ("val/hr@10", "val/ndcg@10", *(m for pair in PROTOCOLS.values() for m in pair))
STATISTICS = ("users", "items", "ratings", "density")


@dataclass(frozen=True)
class Cell:
    """One metric over the seeds of one (dataset, factor value): ``n`` values from ``jobs`` runs.

    ``completed`` runs finished; a completed run that did not record the metric (``eval.ks`` without
    its K) gives no value, and a cell of only such runs reads "n/a", not "failed".
    """

    mean: float
    std: float
    n: int
    jobs: int
    completed: int

    def text(self) -> str:
        if self.n == 0:
            return "n/a" if self.completed else "failed"
        text = f"{self.mean:.4f}" if self.n == 1 else f"{self.mean:.4f} ± {self.std:.4f}"
        return text if self.n == self.jobs else f"{text} ({self.n}/{self.jobs})"


@dataclass
class Report:
    """The aggregate of a set of runs under one layout."""

    layout: Layout
    jobs: list[Job]
    summary: pd.DataFrame
    sources: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @cached_property
    def significance(self) -> Significance:
        """Bootstrap intervals of the cells and paired tests between them (``report.significance``)."""
        candidates = {
            str(job.path): (
                (job.record.get("dataset") or {}).get("sha256"),
                job.value("data.split_seed"),
                job.value("data.eval_negatives"),
            )
            for job in self.jobs
        }
        return compute(self.summary, PROTOCOLS, candidates)

    @property
    def failed(self) -> list[Job]:
        return [job for job in self.jobs if not job.completed]

    @property
    def datasets(self) -> list[str]:
        return sorted(set(self.summary["dataset"]), key=dataset_order)

    @property
    def factors(self) -> list[Any]:
        values = list(dict.fromkeys(self.summary["factor"]))
        return sorted(values, key=lambda v: _factor_order(v, self.layout))

    def cell(self, dataset: str, factor: Any, metric: str) -> Cell | None:
        """Mean and sample std (n - 1) of ``metric`` over the cell's completed runs; None if no runs."""
        rows = self.summary[(self.summary["dataset"] == dataset) & (self.summary["factor"] == factor)]
        if rows.empty:
            return None
        values = [
            v
            for v, status in zip(rows.get(metric, []), rows["status"])
            if status == "completed" and isinstance(v, float) and math.isfinite(v)
        ]
        n = len(values)
        mean = float(np.mean(values)) if n else math.nan
        std = float(np.std(values, ddof=1)) if n > 1 else math.nan
        return Cell(mean, std, n, len(rows), int((rows["status"] == "completed").sum()))

    def cells(self) -> pd.DataFrame:
        """Every cell as numbers (aggregate.csv and the W&B table)."""
        rows = []
        for dataset in self.datasets:
            for factor in self.factors:
                for protocol, metrics in PROTOCOLS.items():
                    for measure, metric in zip(MEASURES, metrics):
                        cell = self.cell(dataset, factor, metric)
                        if cell is not None:
                            rows.append(
                                {
                                    "dataset": dataset,
                                    self.layout.factor_label: factor,
                                    "protocol": protocol,
                                    "measure": measure,
                                    "mean": cell.mean,
                                    "std": cell.std,
                                    "n": cell.n,
                                    "jobs": cell.jobs,
                                    "completed": cell.completed,
                                }
                            )
        return pd.DataFrame(rows)

    def table(self, protocol: str) -> tuple[list[str], list[list[str]]]:
        """The paper's layout for one protocol: header and rows of formatted cells (best mean in bold)."""
        metrics = PROTOCOLS[protocol]
        if self.layout.methods_as_columns:
            return self._methods_as_columns(metrics)
        header = [self.layout.factor_label] + [
            f"{dataset_title(d)} {m}" for d in self.datasets for m in MEASURES
        ]
        grid = [[self.cell(d, f, metric) for d in self.datasets for metric in metrics] for f in self.factors]
        keys = [[(d, f, metric) for d in self.datasets for metric in metrics] for f in self.factors]
        body = self._annotate(grid, keys, _bold_best(grid, along_rows=False))
        return header, [[str(f), *row] for f, row in zip(self.factors, body)]

    def _methods_as_columns(self, metrics: tuple[str, str]) -> tuple[list[str], list[list[str]]]:
        header = ["dataset", "measure", *map(str, self.factors)]
        keys = [(d, measure, metric) for d in self.datasets for measure, metric in zip(MEASURES, metrics)]
        grid = [[self.cell(d, f, metric) for f in self.factors] for d, _, metric in keys]
        cell_keys = [[(d, f, metric) for f in self.factors] for d, _, metric in keys]
        body = self._annotate(grid, cell_keys, _bold_best(grid, along_rows=True))
        rows = [[dataset_title(d), measure, *row] for (d, measure, _), row in zip(keys, body)]
        if self.layout.improvement:
            ours, base = self.layout.improvement
            header.append(f"{ours} vs {base}")
            for row, (d, _, metric) in zip(rows, keys):
                a, b = self.cell(d, ours, metric), self.cell(d, base, metric)
                ok = a is not None and b is not None and a.n and b.n and b.mean > 0
                row.append(f"{100 * (a.mean / b.mean - 1):+.1f}%" if ok else "")  # type: ignore[union-attr]
        return header, rows

    def best_factor(self, dataset: str, metric: str) -> Any | None:
        """The factor whose cell has the best mean ``metric`` on ``dataset`` (the first of ties), or None
        when fewer than two cells have a value: the best of a table's row (or column)."""
        scored = [(c.mean, f) for f in self.factors if (c := self.cell(dataset, f, metric)) and c.n]
        return max(scored, key=lambda s: s[0])[1] if len(scored) > 1 else None

    def _annotate(
        self, grid: list[list[Cell | None]], keys: list[list[tuple[str, Any, str]]], text: list[list[str]]
    ) -> list[list[str]]:
        """Add each cell's bootstrap interval and, for a cell the tests cannot tell from the best of its
        row (or column), the :data:`INDISTINGUISHABLE` marker."""
        significance = self.significance
        if not significance.intervals:
            return text
        best: dict[tuple[str, str], Any] = {}
        for r, row in enumerate(keys):
            for c, (dataset, factor, metric) in enumerate(row):
                interval = significance.interval(dataset, factor, metric)
                if interval is None or grid[r][c] is None or not grid[r][c].n:
                    continue
                text[r][c] += f" [{interval[0]:.4f}, {interval[1]:.4f}]"
                if (dataset, metric) not in best:
                    best[dataset, metric] = self.best_factor(dataset, metric)
                if best[dataset, metric] is not None:
                    marker = significance.marker(dataset, metric, factor, best[dataset, metric])
                    text[r][c] += f" {marker}" if marker else ""
        return text

    def statistics_table(self) -> tuple[list[str], list[list[str]]]:
        """Table 1: statistics down, datasets across (from the first completed run per dataset)."""
        stats: dict[str, dict[str, Any]] = {}
        for job in self.jobs:
            info = job.record.get("dataset")
            if job.completed and info:
                first = stats.setdefault(job.dataset, info)
                note = f"{job.dataset}: runs read different files ({job.path})"
                if first.get("sha256") != info.get("sha256") and note not in self.notes:
                    self.notes.append(note)
        header = [self.layout.factor_label, *(dataset_title(d) for d in self.datasets)]
        rows = []
        for key in STATISTICS:
            row = [key]
            for d in self.datasets:
                value = stats.get(d, {}).get(key)
                row.append("failed" if value is None else _format_statistic(key, value))
            rows.append(row)
        return header, rows

    def markdown(self, level: int = 1, title: bool = True) -> str:
        """The report: provenance, one table per protocol, notes, failed jobs."""
        h = "#" * level
        out = [f"{h} {self.layout.title}\n"] if title else []
        out.append(self._provenance() + "\n")
        if self.layout.statistics:
            out.append(markdown_table(*self.statistics_table()))
        else:
            negatives = _distinct(self.summary.get("eval_negatives", []))
            out += [
                f"{h}# Sampled protocol (the paper's): the test item against {negatives} sampled negatives\n",
                markdown_table(*self.table("sampled")),
                f"{h}# Full ranking: the test item against every item the user never interacted with\n",
                markdown_table(*self.table("full")),
            ]
            if self.significance.comparisons:
                out += [
                    f"{h}# Significance: each cell against the best of its "
                    f"{'row' if self.layout.methods_as_columns else 'column'}\n",
                    SIGNIFICANCE_LEGEND + "\n",
                    markdown_table(*self.significance_table()),
                ]
            tuning = self.tuning_table()
            if tuning[1]:
                out += [
                    f"{h}# Tuning budget: each tuned method's search, from its sweep's records\n",
                    markdown_table(*tuning),
                ]
            out += [
                f"{h}# Cost: epochs, selected epoch and training time (means over completed runs)\n",
                markdown_table(*self.cost_table()),
            ]
        if self.layout.figure:
            out.append(f"![{self.layout.title}](figure2.png)\n")
        notes = self.notes + self._mixed_cells() + self._missing_metrics() + self._without_per_user()
        if notes:
            out.append(f"{h}# Notes\n\n" + "".join(f"- {note}\n" for note in notes))
        if self.failed:
            rows = [
                [self._job_name(job), " ".join(job.overrides), _one_line(job.record.get("error", ""))]
                for job in self.failed
            ]
            out.append(f"{h}# Failed jobs\n\n" + markdown_table(["job", "overrides", "error"], rows))
        return "\n".join(out)

    def significance_table(self) -> tuple[list[str], list[list[str]]]:
        """Per protocol, dataset and measure: the best cell against each other one (all pairs are in
        significance.csv)."""
        header = [
            "protocol",
            "dataset",
            "measure",
            "best",
            "against",
            "difference [95% CI]",
            "Holm p",
            "verdict",
        ]
        rows = []
        for protocol, metrics in PROTOCOLS.items():
            for dataset in self.datasets:
                for measure, metric in zip(MEASURES, metrics):
                    best = self.best_factor(dataset, metric)
                    if best is None:
                        continue
                    for factor in self.factors:
                        found = self.significance.comparison(dataset, metric, best, factor)
                        if factor == best or found is None:
                            continue
                        rows.append(
                            [
                                protocol,
                                dataset_title(dataset),
                                measure,
                                str(best),
                                str(factor),
                                found.difference_text(),
                                format_p(found.p_holm),
                                "significant" if found.significant else "not significant",
                            ]
                        )
        return header, rows

    def tuning_table(self) -> tuple[list[str], list[list[str]]]:
        """Per dataset and method of runs with tuned values (``tuned_as``): the tuning sweep's budget as the
        values file recorded it (``deepmf.report.tuned``); rows only when some run has such a method."""
        header = [
            "dataset",
            "method",
            "searched",
            "trials (completed)",
            "trial time, summed",
            "chosen on",
            "sweep",
        ]
        rows, seen = [], set()
        for job in self.jobs:
            name = job.value("tuned_as")
            if not job.completed or not name or (job.dataset, job.method) in seen:
                continue
            seen.add((job.dataset, job.method))
            budget = job.value(f"tuned.{name}.tuning")
            if not isinstance(budget, dict):
                rows.append([dataset_title(job.dataset), job.method, "", "", "", "", NOT_TUNED_HERE])
                continue
            rows.append(
                [
                    dataset_title(job.dataset),
                    job.method,
                    ", ".join(budget.get("searched") or []),
                    f"{budget.get('trials')} ({budget.get('completed')})",
                    _hours(budget.get("wall_time_s")),
                    f"{budget.get('monitor')} = {float(budget.get('best_value', math.nan)):.4f}",
                    f"`{budget.get('sweep')}`",
                ]
            )
        return header, rows

    def cost_table(self) -> tuple[list[str], list[list[str]]]:
        """Per dataset and configuration: epochs trained, selected epoch, s/epoch and wall seconds."""
        done = self.summary[self.summary["status"] == "completed"]
        header = ["dataset", "configuration", "runs", "epochs", "selected epoch", "s/epoch", "wall s"]
        rows = []
        for (dataset, factor), group in done.groupby(["dataset", "factor"], sort=False):

            def mean(column: str, digits: int = 1, group: pd.DataFrame = group) -> str:
                values = pd.to_numeric(group[column], errors="coerce").dropna()
                return f"{values.mean():.{digits}f}" if len(values) else "–"

            rows.append(
                [
                    str(dataset),
                    str(factor),
                    str(len(group)),
                    mean("epochs_trained"),
                    mean("best_epoch"),
                    mean("seconds_per_epoch"),
                    mean("wall_time_s", 0),
                ]
            )
        return header, rows

    def _provenance(self) -> str:
        done = len(self.jobs) - len(self.failed)
        sources = ", ".join(f"`{s}`" for s in self.sources)
        text = f"{len(self.jobs)} runs from {sources}: {done} completed, {len(self.failed)} failed."
        if not self.layout.statistics:
            text += (
                f" Seeds: {_distinct(self.summary['seed'])}. Max epochs: "
                f"{_distinct(self.summary['max_epochs'])}. Cells: mean ± sample std (n − 1) over seeds; "
                "(n/m): only n of the cell's m runs completed; bold: the best mean along the "
                f"{'row' if self.layout.methods_as_columns else 'column'}."
            )
            if self.significance.intervals:
                text += (
                    " [lo, hi]: 95% bootstrap interval over users of the cell's mean (each user's score "
                    f"averaged over the seeds); {INDISTINGUISHABLE}: not significantly different from the "
                    "best (paired t-test over users, Holm-corrected over the table's comparisons, "
                    f"p ≥ {ALPHA})."
                )
        return text

    def _mixed_cells(self) -> list[str]:
        """Warn when one cell averages runs that differ in more than the seed."""
        notes = []
        for (dataset, factor), rows in self.summary.groupby(["dataset", "factor"], sort=False):
            configs = set(rows["configuration"])
            if len(configs) > 1:
                notes.append(
                    f"cell ({dataset}, {factor}) averages runs with different settings: "
                    + "; ".join(sorted(configs))
                )
        return notes

    def _without_per_user(self) -> list[str]:
        """Name the cells whose runs saved no per_user.npz (older runs: no interval, no test) and the pairs
        of cells whose runs ranked other candidates (not compared)."""
        if self.layout.statistics:
            return []
        notes = []
        if self.significance.without_per_user:
            cells = ", ".join(f"({d}, {f})" for d, f in self.significance.without_per_user)
            notes.append(
                f"cells with runs that saved no {PER_USER_FILE} have no interval and no test: {cells}"
            )
        if self.significance.not_paired:
            pairs = ", ".join(f"{a} and {b} on {d}" for d, a, b in self.significance.not_paired)
            notes.append(
                f"not compared, their runs ranked other candidates (data file, split or negatives): {pairs}"
            )
        return notes

    def _missing_metrics(self) -> list[str]:
        """Name the table's metrics that completed runs did not record (e.g. ``eval.ks`` without 10)."""
        if self.layout.statistics:
            return []
        wanted = [metric for pair in PROTOCOLS.values() for metric in pair]
        missing: dict[tuple[str, ...], list[Job]] = {}
        for job in self.jobs:
            absent = tuple(metric for metric in wanted if metric not in job.metrics)
            if job.completed and absent:
                missing.setdefault(absent, []).append(job)
        return [
            f"{len(jobs)} completed runs did not record {', '.join(absent)} (their eval.ks: "
            f"{_distinct(str(job.value('eval.ks')) for job in jobs)}): their cells read n/a"
            for absent, jobs in missing.items()
        ]

    def _job_name(self, job: Job) -> str:
        for source in self.sources:
            if job.path.is_relative_to(source):
                return str(job.path.relative_to(source)) or "."
        return str(job.path)


def aggregate(
    jobs: list[Job],
    layout: str | None = None,
    sources: list[Path] | None = None,
    notes: list[str] | None = None,
) -> Report:
    """Build the report of ``jobs`` (and of the components they trained first, see ``with_components``);
    the layout is ``layout``, else the one the runs were made for."""
    jobs = with_components(jobs)
    if layout is None:
        named = {job.layout for job in jobs if job.layout}
        layout = named.pop() if len(named) == 1 else None
    chosen = get_layout(layout)
    name_datasets(jobs)
    return Report(chosen, jobs, summarize(jobs, chosen), list(sources or []), list(notes or []))


def summarize(jobs: list[Job], layout: Layout) -> pd.DataFrame:
    """One row per job: what it was (dataset, factor, method, seed), how it went, and its metrics."""
    settings = [_settings(job) for job in jobs]
    varying = _varying_keys(settings)
    rows = []
    for job, own in zip(jobs, settings):
        configuration = " ".join(
            [job.method, *(f"{k}={v}" for k, v in own.items() if k not in NAMED_BY_METHOD)]
        )
        if layout.factor == "overrides":
            extra = [f"{k}={own[k]}" for k in varying if k in own]
            factor: Any = " ".join([job.method, *extra])
        else:
            factor = job.value(layout.factor)
            factor = "?" if factor is None else factor
        metrics = job.metrics
        policy = (job.record.get("dataset") or {}).get("policy") or {}
        rows.append(
            {
                "job": str(job.path),
                "status": job.status,
                "dataset": job.dataset,
                "factor": factor,
                "method": job.method,
                "seed": job.seed,
                "max_epochs": job.value("trainer.max_epochs"),
                "eval_negatives": job.value("data.eval_negatives"),
                "best_epoch": job.record.get("best_epoch"),
                "epochs_trained": job.record.get("epochs_trained"),
                "seconds_per_epoch": job.record.get("seconds_per_epoch"),
                "wall_time_s": job.record.get("wall_time_s"),
                **{m: metrics.get(m) for m in METRIC_COLUMNS},
                **{key: policy.get(key) for key in POLICY_COUNTS},
                "configuration": configuration,
                "overrides": " ".join(job.overrides),
                "error": _one_line(job.record.get("error", "")),
            }
        )
    return pd.DataFrame(rows, columns=_SUMMARY_COLUMNS)


_SUMMARY_COLUMNS = [
    "job", "status", "dataset", "factor", "method", "seed", "max_epochs", "eval_negatives", "best_epoch",
    "epochs_trained", "seconds_per_epoch", "wall_time_s", *METRIC_COLUMNS, *POLICY_COUNTS, "configuration",
    "overrides", "error",
]  # fmt: skip


def _settings(job: Job) -> dict[str, str]:
    """A job's overrides that could change its result, other than seed and dataset."""
    out = {}
    for override in job.overrides:
        key, _, value = override.lstrip("+~").partition("=")
        if key.split(".")[0] in IGNORED_OVERRIDES or key == "data":
            continue
        out[key] = value
    return out


def _varying_keys(settings: list[dict[str, str]]) -> list[str]:
    keys = dict.fromkeys(k for own in settings for k in own)
    return [k for k in keys if k not in NAMED_BY_METHOD and len({own.get(k) for own in settings}) > 1]


def _factor_order(value: Any, layout: Layout) -> tuple[int, float, tuple[Any, ...]]:
    if value in layout.order:
        return (0, float(layout.order.index(value)), ())
    try:
        return (1, float(value), ())
    except (TypeError, ValueError):
        # Natural order, so that "GMF model.factors=8" comes before "GMF model.factors=16".
        parts = re.split(r"(\d+)", str(value))
        return (2, 0.0, tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts))


def _bold_best(grid: list[list[Cell | None]], along_rows: bool) -> list[list[str]]:
    """Format cells; bold the best mean of each row (or column) when it has two or more values."""
    text = [["" if c is None else c.text() for c in row] for row in grid]
    lines = grid if along_rows else [list(col) for col in zip(*grid)] if grid else []
    for i, line in enumerate(lines):
        means = [c.mean if c is not None and c.n else -math.inf for c in line]
        if sum(m > -math.inf for m in means) < 2:
            continue
        best = max(means)
        for j, m in enumerate(means):
            if m == best:
                r, c = (i, j) if along_rows else (j, i)
                text[r][c] = f"**{text[r][c]}**"
    return text


NOT_TUNED_HERE = (
    "no tuning record for this dataset: ML-100k's values (chosen by the grid conf/hparams/<method>.yaml)"
)


def _hours(seconds: Any) -> str:
    """Summed trial time, ``1.5 h`` or ``12 min``."""
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        return "?"
    return f"{value / 3600:.1f} h" if value >= 3600 else f"{value / 60:.0f} min"


SIGNIFICANCE_LEGEND = (
    "Paired over the users both cells evaluated (each user's HR@10 or NDCG@10 averaged over the seeds): "
    "difference of means with its 95% bootstrap interval over users, two-sided paired t-test, p-values "
    "Holm-corrected over every pair of the protocol's table (every pair is in `significance.csv`)."
)


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _format_statistic(key: str, value: Any) -> str:
    return f"{value:.5f}" if key == "density" else f"{int(value):,}"


def _distinct(values: Any) -> str:
    seen = [
        v for v in dict.fromkeys(values) if v is not None and not (isinstance(v, float) and math.isnan(v))
    ]
    return ", ".join(str(v) for v in sorted(seen, key=str)) or "?"


def _one_line(text: str, limit: int = 240) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def write_report(report: Report, folder: Path) -> list[Path]:
    """Write summary.csv, aggregate.csv, table.md (and figure2.png) into ``folder``; return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    frames = [("summary.csv", report.summary), ("aggregate.csv", report.cells())]
    if report.significance.comparisons:
        frames.append(("significance.csv", report.significance.frame()))
    for name, frame in frames:
        path = folder / name
        write_atomic(path, lambda tmp, frame=frame: frame.to_csv(tmp, index=False))
        written.append(path)
    if report.layout.figure:
        from deepmf.report.figure import plot_epochs

        path = folder / "figure2.png"
        write_atomic(path, lambda tmp: plot_epochs(report, tmp))
        written.append(path)
    path = folder / "table.md"
    text = report.markdown()
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    written.append(path)
    return written
