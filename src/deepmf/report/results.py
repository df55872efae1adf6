"""docs/results.md: each artefact's tables from the runs, beside the paper's claims and a reproduction."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from pathlib import Path

from deepmf.io import write_atomic
from deepmf.report.aggregate import Report, aggregate, markdown_table
from deepmf.report.anchors import (
    CLAIMED_BEST,
    NCF_NEUMF_P_ML1M,
    PAPER_CLAIMS,
    PAPER_TABLE1,
    PAPER_TABLE1_NOTE,
    REPRODUCTION,
    REPRODUCTION_FINDING,
    REPRODUCTION_SOURCE,
)
from deepmf.report.collect import check_runs_found, load_source
from deepmf.report.job import Job
from deepmf.report.layouts import LAYOUTS, PROTOCOLS, dataset_title
from deepmf.report.refresh import INCLUDE, PLACEHOLDER, marked

DEFAULT_TEMPLATE = Path(__file__).resolve().parents[3] / "docs" / "results.template.md"


def included(path: Path) -> str:
    """``{{include:benchmarks/ml100k.md}}``: a file a tool wrote (e.g. benchmarks/bench.py --out), relative to
    the results document's folder, so measured tables are pasted by code, never by hand."""
    if not path.is_file():
        return f"_Not measured yet: `{path}` does not exist (see the command above)._\n"
    return path.read_text(encoding="utf-8")


NDCG, HR = PROTOCOLS["sampled"][1], PROTOCOLS["sampled"][0]


def write_results(sources: list[tuple[str | None, Path]], path: Path, template: Path | None = None) -> None:
    """Fill the template's ``{{table1}}`` .. ``{{figure2}}`` (and ``{{sources}}``) from the runs.

    Raises ``NoRunsError`` before writing anything if a folder contributes no run.
    """
    loaded = [load_source(name, folder) for name, folder in sources]
    check_runs_found(loaded)
    jobs_by_layout: dict[str, list[Job]] = defaultdict(list)
    folders_by_layout: dict[str, list[Path]] = defaultdict(list)
    notes_by_layout: dict[str, list[str]] = defaultdict(list)
    for source in loaded:
        if source.name and (note := source.note()):
            notes_by_layout[source.name].append(note)
        for job in source.jobs:
            layout = source.name or job.layout or "runs"
            jobs_by_layout[layout].append(job)
            if source.folder not in folders_by_layout[layout]:
                folders_by_layout[layout].append(source.folder)
    sections = {}
    for name in LAYOUTS:
        jobs = jobs_by_layout.get(name)
        if not jobs:
            command = "speed=<option>" if name == "speed" else f"experiment={name}"
            sections[name] = f"_No runs yet: `python train.py {command}`, then regenerate._\n"
            continue
        report = aggregate(jobs, name, sources=folders_by_layout[name], notes=notes_by_layout[name])
        sections[name] = section(report, path.parent)
    others = [job for name, jobs in jobs_by_layout.items() if name not in LAYOUTS for job in jobs]
    other_folders = [f for name, fs in folders_by_layout.items() if name not in LAYOUTS for f in fs]
    sections["runs"] = (
        section(aggregate(others, "runs", sources=other_folders), path.parent) if others else "_None._\n"
    )
    sections["sources"] = (
        f"Generated {dt.date.today().isoformat()} by `python -m deepmf.report --results {path}` from: "
        + ", ".join(f"`{'' if n is None else n + '='}{f}`" for n, f in sources)
        + ".\n"
    )
    text = (template or DEFAULT_TEMPLATE).read_text(encoding="utf-8")
    text = INCLUDE.sub(lambda m: included(path.parent / m.group(1)), text)
    # Each run section between markers, so that ``--refresh`` can keep it when the runs are gone.
    text = PLACEHOLDER.sub(
        lambda m: marked(m.group(1), sections[m.group(1)]) if m.group(1) in sections else m.group(0), text
    )
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def section(report: Report, doc_folder: Path) -> str:
    """Our tables, then the paper's claims beside what our runs say, then the reproduction's numbers."""
    parts = []
    if report.layout.figure:
        from deepmf.report.figure import plot_epochs

        figure = doc_folder / "figures" / f"{report.layout.name}.png"
        figure.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(figure, lambda tmp: plot_epochs(report, tmp))
        parts.append(
            report.markdown(level=3, title=False).replace("(figure2.png)", f"(figures/{figure.name})")
        )
    else:
        parts.append(report.markdown(level=3, title=False))
    claims = claim_rows(report)
    if claims:
        parts.append("#### The paper's claims and ours (sampled protocol)\n")
        parts.append(
            markdown_table(["the paper says", "our runs (means)", "paired test over users (Holm)"], claims)
        )
    comparison = comparison_table(report)
    if comparison:
        parts.append(
            f"#### Beside an independent reproduction\n\n{REPRODUCTION_SOURCE}. {REPRODUCTION_FINDING}.\n"
        )
        parts.append(markdown_table(*comparison))
    return "\n".join(parts)


def claim_rows(report: Report) -> list[list[str]]:
    """One row per claim of the paper: what it says, what our means say, and the paired test's verdict."""
    name = report.layout.name
    return [_claim_row(report, *pair) for pair in zip(PAPER_CLAIMS.get(name, []), CLAIMED_BEST.get(name, []))]


def _claim_row(report: Report, claim: str, claimed: tuple[str, str] | dict[str, object]) -> list[str]:
    if isinstance(claimed, tuple):
        ours, base = claimed
        means = _per_dataset(report, lambda d: _gain(report, d, ours, base))
        tests = _per_dataset(report, lambda d: _pair_test(report, d, ours, base))
    else:
        label = report.layout.factor_label
        means = _per_dataset(report, lambda d: f"best {label} {_best(report, d)}")
        tests = _per_dataset(report, lambda d: _best_test(report, d, claimed.get(d, claimed["*"])))
    return [claim, means, tests]


def _pair_test(report: Report, dataset: str, ours: object, base: object) -> str:
    """``NDCG@10 +0.0123 [...]: significant (Holm p = 0.001); HR@10 ...`` for ``ours - base``."""
    parts = []
    for measure, metric in (("NDCG@10", NDCG), ("HR@10", HR)):
        found = report.significance.comparison(dataset, metric, ours, base)
        if found is None:
            return f"not tested (no per-user results of {ours} and {base})"
        parts.append(f"{measure} {found.difference_text()}: {found.verdict()}")
    return f"{ours} − {base}: " + "; ".join(parts)


def _best_test(report: Report, dataset: str, claimed: object) -> str:
    """Whether our best value differs significantly from the claimed one (by NDCG@10); when they are the
    same, whether it beats our runner-up."""
    scored = [(c.mean, f) for f in report.factors if (c := report.cell(dataset, f, NDCG)) and c.n]
    scored = sorted((s for s in scored if math.isfinite(s[0])), key=lambda s: -s[0])
    if claimed not in [f for _, f in scored]:
        return f"{claimed} was not run"
    if len(scored) < 2:
        return "one value only: nothing to test"
    best = scored[0][1]
    other = scored[1][1] if best == claimed else claimed
    found = report.significance.comparison(dataset, NDCG, best, other)
    if found is None:
        return "not tested (no per-user results)"
    what = (
        f"the claimed {claimed} is our best; vs runner-up {other}"
        if best == claimed
        else (f"our best {best} vs the claimed {claimed}")
    )
    return f"{what}: NDCG@10 {found.difference_text()}, {found.verdict()}"


def comparison_table(report: Report) -> tuple[list[str], list[list[str]]] | None:
    if report.layout.name == "table1":
        header = ["dataset", "ours: users / items / ratings / density", "the paper"]
        rows = []
        for dataset in report.datasets:
            job = next((j for j in report.jobs if j.completed and j.dataset == dataset), None)
            ours = job.record.get("dataset", {}) if job else {}
            paper = PAPER_TABLE1.get(dataset)
            rows.append([dataset_title(dataset), _stats(ours), _stats(paper) if paper else "—"])
        rows.append(["", "", PAPER_TABLE1_NOTE])
        return header, rows
    if report.layout.name != "table2":
        return None
    header = ["dataset", "method", "ours HR@10 / NDCG@10", "reproduction HR@10 / NDCG@10"]
    rows = []
    for dataset in report.datasets:
        for method in report.factors:
            ours = [report.cell(dataset, method, m) for m in (HR, NDCG)]
            theirs = []
            if method in REPRODUCTION and dataset in REPRODUCTION[method][1]:
                hr, nd = REPRODUCTION[method][1][dataset]
                theirs.append(f"{hr:.4f} / {nd:.4f} ({REPRODUCTION[method][0]})")
            if method == "NeuMF-p" and dataset == "ml1m":
                theirs.append(
                    f"{NCF_NEUMF_P_ML1M[0]:.3f} / {NCF_NEUMF_P_ML1M[1]:.3f} (NCF paper, 64 factors)"
                )
            text = " / ".join(c.text() if c else "—" for c in ours)
            rows.append([dataset_title(dataset), str(method), text, "; ".join(theirs) or "—"])
    return header, rows


def _per_dataset(report: Report, describe) -> str:  # type: ignore[no-untyped-def]
    return "; ".join(f"{dataset_title(d)}: {describe(d)}" for d in report.datasets)


def _gain(report: Report, dataset: str, ours: str, base: str) -> str:
    """Relative difference of means, NDCG and HR, as the paper's Improvement column."""
    parts = []
    for measure, metric in (("NDCG", NDCG), ("HR", HR)):
        a, b = report.cell(dataset, ours, metric), report.cell(dataset, base, metric)
        if a is None or b is None or not a.n or not b.n or b.mean <= 0:
            return f"{ours} or {base} missing"
        parts.append(f"{measure} {100 * (a.mean / b.mean - 1):+.1f}%")
    return f"{ours} vs {base} " + ", ".join(parts)


def _best(report: Report, dataset: str) -> str:
    """The factor with the highest mean NDCG@10 (the first of equals, in the table's order)."""
    scored = [(c.mean, f) for f in report.factors if (c := report.cell(dataset, f, NDCG)) and c.n]
    scored = [(m, f) for m, f in scored if math.isfinite(m)]
    return str(max(scored, key=lambda s: s[0])[1]) + " (by NDCG@10)" if scored else "—"


def _stats(info: dict) -> str:  # type: ignore[type-arg]
    if not info:
        return "—"
    return (
        f"{int(info['users']):,} / {int(info['items']):,} / {int(info['ratings']):,} / {info['density']:.5f}"
    )
