"""Which differences in a table are real: paired tests over users and bootstrap intervals, from per_user.npz.

For each cell (dataset, method or factor value) a user's score is their HR@10 or NDCG@10 (from the rank
of their held-out item, ties already counted against it) averaged over the cell's seeds. Two cells of
the same dataset are compared on the users both evaluated: a paired t-test over users
(``scipy.stats.ttest_rel``; p = 1 when every user's difference is 0), Holm-corrected over every
comparison of one protocol's table (all pairs, every dataset and measure). Each cell, and each paired
difference, gets a 95% percentile bootstrap interval over users (``scipy.stats.bootstrap``).

A cell with a completed run that has no ``per_user.npz`` (runs from before it existed) gets no interval
and takes part in no test: the table reads as it did before.
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from deepmf.evaluation.per_user import FILENAME, MEASURES, PerUser, load_per_user

log = logging.getLogger(__name__)

#: Holm-adjusted p-values below this are "significant".
ALPHA = 0.05
CONFIDENCE = 0.95
RESAMPLES = 2000
#: Marks a cell that the tests cannot tell from the best of its row (or column).
INDISTINGUISHABLE = "≈"


@dataclass(frozen=True)
class UserScores:
    """One cell's per-user scores: user ids (sorted) and each user's mean over ``seeds`` runs."""

    users: np.ndarray
    scores: np.ndarray
    seeds: int


@dataclass(frozen=True)
class Comparison:
    """A paired test of cell ``a`` against cell ``b`` on one dataset and metric (``test/ndcg@10``)."""

    dataset: str
    protocol: str
    metric: str
    a: Any
    b: Any
    mean_a: float
    mean_b: float
    difference: float
    difference_low: float
    difference_high: float
    users: int
    seeds_a: int
    seeds_b: int
    p: float
    p_holm: float = math.nan

    @property
    def significant(self) -> bool:
        return self.p_holm < ALPHA

    def difference_text(self) -> str:
        """``+0.0123 [+0.0040, +0.0210]``: the mean paired difference and its bootstrap interval."""
        return f"{self.difference:+.4f} [{self.difference_low:+.4f}, {self.difference_high:+.4f}]"

    def verdict(self) -> str:
        """``significant (Holm p = 0.0012)`` or ``not significant (...)``."""
        return (
            f"{'significant' if self.significant else 'not significant'} (Holm p = {format_p(self.p_holm)})"
        )


def format_p(p: float) -> str:
    if math.isnan(p):
        return "n/a"
    return f"{p:.2g}" if p < 0.001 else f"{p:.3f}"


def paired_p_value(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided paired t-test over users of ``a - b``: 1 when every difference is 0, 0 when every
    difference is the same non-zero number (no spread, a certain difference)."""
    differences = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if len(differences) == 0:
        return math.nan
    if np.all(differences == 0):
        return 1.0
    if np.allclose(differences, differences[0], rtol=0.0, atol=1e-12):  # float noise is no spread
        return 0.0
    if len(differences) < 2:
        return math.nan
    return float(stats.ttest_rel(a, b).pvalue)


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment of ``p_values`` (NaN stays NaN and is not counted)."""
    indexed = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    m = len(indexed)
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(indexed):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def bootstrap_interval(values: np.ndarray, seed: int = 0, resamples: int = RESAMPLES) -> tuple[float, float]:
    """95% percentile bootstrap interval of the mean of ``values`` over users."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return math.nan, math.nan
    if np.all(values == values[0]):  # no spread: every resample has the same mean
        return float(values[0]), float(values[0])
    result = stats.bootstrap(
        (values,),
        np.mean,
        n_resamples=resamples,
        confidence_level=CONFIDENCE,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def parse_metric(metric: str) -> tuple[str, str, str, int]:
    """``test/full_ndcg@10`` -> ``("test", "full", "ndcg", 10)``."""
    stage, _, rest = metric.partition("/")
    name, _, k = rest.partition("@")
    protocol = "full" if name.startswith("full_") else "sampled"
    return stage, protocol, name.removeprefix("full_"), int(k)


def user_scores(per_user: list[PerUser], metric: str) -> UserScores | None:
    """Per-user ``metric`` averaged over the runs; None if a run lacks the stage. Users are those every run
    evaluated (the same split gives the same users)."""
    stage, protocol, measure, k = parse_metric(metric)
    tables = []
    for record in per_user:
        ranks = record.stages.get(stage)
        if ranks is None:
            return None
        tables.append(pd.Series(MEASURES[measure](ranks.ranks(protocol), k), index=ranks.users))
    if not tables:
        return None
    frame = pd.concat(tables, axis=1, join="inner").sort_index()
    return UserScores(frame.index.to_numpy(), frame.mean(axis=1).to_numpy(), len(tables))


@dataclass
class Significance:
    """Intervals of the cells and tests between them, for the metrics of one report."""

    intervals: dict[tuple[str, Any, str], tuple[float, float]] = field(default_factory=dict)
    comparisons: dict[tuple[str, str, Any, Any], Comparison] = field(default_factory=dict)
    #: (dataset, factor) cells that have runs without per_user.npz.
    without_per_user: list[tuple[str, Any]] = field(default_factory=list)
    #: (dataset, a, b) pairs not compared: their runs ranked other candidates (data file, split, negatives).
    not_paired: list[tuple[str, Any, Any]] = field(default_factory=list)

    def interval(self, dataset: str, factor: Any, metric: str) -> tuple[float, float] | None:
        return self.intervals.get((dataset, factor, metric))

    def comparison(self, dataset: str, metric: str, a: Any, b: Any) -> Comparison | None:
        """The test of ``a`` against ``b`` (difference ``a - b``), whichever order it was computed in."""
        found = self.comparisons.get((dataset, metric, a, b))
        if found is not None:
            return found
        other = self.comparisons.get((dataset, metric, b, a))
        if other is None:
            return None
        return Comparison(
            **asdict(other)
            | {
                "a": a,
                "b": b,
                "mean_a": other.mean_b,
                "mean_b": other.mean_a,
                "difference": -other.difference,
                "difference_low": -other.difference_high,
                "difference_high": -other.difference_low,
                "seeds_a": other.seeds_b,
                "seeds_b": other.seeds_a,
            }
        )

    def marker(self, dataset: str, metric: str, factor: Any, best: Any) -> str:
        """:data:`INDISTINGUISHABLE` if ``factor``'s cell is not significantly different from ``best``'s."""
        if factor == best:
            return ""
        found = self.comparison(dataset, metric, factor, best)
        return INDISTINGUISHABLE if found is not None and not found.significant else ""

    def frame(self) -> pd.DataFrame:
        """Every comparison (significance.csv)."""
        rows = [asdict(c) | {"significant": c.significant} for c in self.comparisons.values()]
        columns = [*Comparison.__dataclass_fields__, "significant"]
        return pd.DataFrame(rows, columns=columns).rename(columns={"a": "method_a", "b": "method_b"})


def compute(
    summary: pd.DataFrame,
    protocols: dict[str, tuple[str, ...]],
    candidates: dict[str, Any] | None = None,
    seed: int = 0,
) -> Significance:
    """Intervals and Holm-corrected tests for the cells of ``summary`` (the report's one row per job).

    ``protocols`` maps a protocol to its table's metrics (``layouts.PROTOCOLS``): each protocol's
    comparisons are one family for Holm's correction. ``candidates`` maps a job (summary's ``job``) to what
    decides the users' held-out items and candidates (data file, split seed, negatives): two cells are
    paired only when all their runs agree on it.
    """
    result = Significance()
    done = summary[summary["status"] == "completed"]
    cells: dict[tuple[str, Any], list[PerUser]] = {}
    settings: dict[tuple[str, Any], set[Any]] = {}
    for (dataset, factor), rows in done.groupby(["dataset", "factor"], sort=False):
        loaded = [_load(Path(job)) for job in rows["job"]]
        if any(record is None for record in loaded):
            result.without_per_user.append((dataset, factor))
            continue
        cells[(dataset, factor)] = [record for record in loaded if record is not None]
        settings[(dataset, factor)] = {(candidates or {}).get(job) for job in rows["job"]}
    for protocol, metrics in protocols.items():
        family: list[Comparison] = []
        for metric in metrics:
            scores = {key: s for key, runs in cells.items() if (s := user_scores(runs, metric)) is not None}
            for (dataset, factor), s in scores.items():
                result.intervals[(dataset, factor, metric)] = bootstrap_interval(s.scores, seed)
            for (key_a, a), (key_b, b) in itertools.combinations(scores.items(), 2):
                if key_a[0] != key_b[0]:
                    continue
                if len(settings[key_a] | settings[key_b]) > 1:
                    pair = (key_a[0], key_a[1], key_b[1])
                    if pair not in result.not_paired:
                        result.not_paired.append(pair)
                    continue
                family.append(_compare(key_a[0], protocol, metric, key_a[1], key_b[1], a, b, seed))
        for comparison, p_holm in zip(family, holm([c.p for c in family])):
            key = (comparison.dataset, comparison.metric, comparison.a, comparison.b)
            result.comparisons[key] = Comparison(**asdict(comparison) | {"p_holm": p_holm})
    return result


def _compare(
    dataset: str, protocol: str, metric: str, a: Any, b: Any, sa: UserScores, sb: UserScores, seed: int
) -> Comparison:
    users, ia, ib = np.intersect1d(sa.users, sb.users, return_indices=True)
    x, y = sa.scores[ia], sb.scores[ib]
    low, high = bootstrap_interval(x - y, seed)
    return Comparison(
        dataset=dataset,
        protocol=protocol,
        metric=metric,
        a=a,
        b=b,
        mean_a=float(x.mean()) if len(x) else math.nan,
        mean_b=float(y.mean()) if len(y) else math.nan,
        difference=float((x - y).mean()) if len(x) else math.nan,
        difference_low=low,
        difference_high=high,
        users=len(users),
        seeds_a=sa.seeds,
        seeds_b=sb.seeds,
        p=paired_p_value(x, y),
    )


def _load(folder: Path) -> PerUser | None:
    path = folder / FILENAME
    if not path.is_file():
        return None
    try:
        return load_per_user(path)
    except ValueError as exc:  # a damaged file must not stop the report: the cell reads as without one
        log.warning("%s", exc)
        return None
