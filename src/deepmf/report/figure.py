"""Figure 2: per-epoch validation HR@10 and NDCG@10 by tower depth, one column of panels per dataset."""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and in sweeps

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from deepmf.report.aggregate import Report  # noqa: E402
from deepmf.report.layouts import dataset_title  # noqa: E402

CURVES = (("val/hr@10", "HR@10"), ("val/ndcg@10", "NDCG@10"))


def epoch_curves(report: Report, dataset: str, factor: object, metric: str) -> np.ndarray:
    """(seeds, epochs) of ``metric`` from each completed run's history; NaN where a run stopped early."""
    histories = [
        [row.get(metric, np.nan) for row in job.record.get("history", [])]
        for job, (_, summary) in zip(report.jobs, report.summary.iterrows())
        if job.completed and summary["dataset"] == dataset and summary["factor"] == factor
    ]
    histories = [h for h in histories if h]
    if not histories:
        return np.empty((0, 0))
    length = max(map(len, histories))
    return np.array([h + [np.nan] * (length - len(h)) for h in histories], dtype=float)


def plot_epochs(report: Report, path: Path) -> None:
    """Mean over seeds (line) ± one std (band) per factor value; rows HR / NDCG, columns datasets."""
    datasets = report.datasets
    fig, axes = plt.subplots(
        len(CURVES), len(datasets), figsize=(max(6.0, 4.5 * len(datasets)), 6.4), squeeze=False, sharex="col"
    )
    for col, dataset in enumerate(datasets):
        for row, (metric, measure) in enumerate(CURVES):
            ax = axes[row][col]
            for factor in report.factors:
                curves = epoch_curves(report, dataset, factor, metric)
                if curves.size == 0:
                    continue
                epochs = np.arange(1, curves.shape[1] + 1)
                mean = np.nanmean(curves, axis=0)
                ax.plot(
                    epochs, mean, marker="o", markersize=3, label=f"{report.layout.factor_label} {factor}"
                )
                if len(curves) > 1:
                    with warnings.catch_warnings():  # epochs only one seed reached have no std
                        warnings.simplefilter("ignore", RuntimeWarning)
                        std = np.nanstd(curves, axis=0, ddof=1)
                    ax.fill_between(epochs, mean - std, mean + std, alpha=0.2)
            ax.set_title(f"{dataset_title(dataset)}: validation {measure}")
            ax.set_ylabel(measure)
            ax.grid(alpha=0.3)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            if row == len(CURVES) - 1:
                ax.set_xlabel("epoch")
            ax.legend(fontsize=8)
    fig.suptitle(f"{report.layout.title}\nmean ± std over seeds", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=120)
    plt.close(fig)
