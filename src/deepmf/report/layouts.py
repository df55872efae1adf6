"""How each paper artefact lays out its runs: what varies along the table, and in which direction."""

from __future__ import annotations

from dataclasses import dataclass

#: Test metrics per protocol: sampled (target vs. its evaluation negatives, the paper's) and full ranking.
PROTOCOLS: dict[str, tuple[str, str]] = {
    "sampled": ("test/hr@10", "test/ndcg@10"),
    "full": ("test/full_hr@10", "test/full_ndcg@10"),
}
MEASURES = ("HR@10", "NDCG@10")

#: The paper's dataset names and order; other datasets follow alphabetically under their own names.
DATASETS = {"ml100k": "ML100k", "ml1m": "ML1m", "amusic": "Amusic", "amovie": "Amovie"}

#: Table 2's column order (the paper's methods, then ours).
TABLE2_METHODS = (
    "ItemPop",
    "ItemKNN",
    "eALS",
    "NeuMF-p",
    "DMF-2-ce",
    "DMF-2-nce",
    "DMF-nce (tuned)",
    "EASE",
    "DMF-2-nce (binary Y)",
)


@dataclass(frozen=True)
class Layout:
    """A table's shape.

    Attributes:
        name: the ``report=`` value experiment configs set (``table4``).
        title: the heading, in the paper's words.
        factor: what varies: ``method``, a dotted config key (``data.neg_ratio``), or ``overrides``
            (the overrides that differ between jobs: any ad-hoc sweep).
        factor_label: the factor's column heading.
        methods_as_columns: Table 2's orientation (methods across, datasets x measures down);
            otherwise factor values down, datasets x measures across.
        order: preferred order of factor values (others follow, sorted).
        improvement: (ours, baseline): add the paper's "Improvement" column, ours over baseline in %.
        statistics: dataset statistics (Table 1) instead of metrics.
        figure: also draw per-epoch validation curves by factor value (Figure 2).
    """

    name: str
    title: str
    factor: str
    factor_label: str
    methods_as_columns: bool = False
    order: tuple[str, ...] = ()
    improvement: tuple[str, str] | None = None
    statistics: bool = False
    figure: bool = False


LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (
        Layout("table1", "Table 1: statistics of the datasets", "dataset", "statistic", statistics=True),
        Layout(
            "table2",
            "Table 2: HR@10 and NDCG@10 of the methods",
            "method",
            "method",
            methods_as_columns=True,
            order=TABLE2_METHODS,
            improvement=("DMF-2-nce", "NeuMF-p"),
        ),
        Layout("table3", "Table 3: LFM-nce vs DMF-1-nce", "method", "method", order=("LFM-nce", "DMF-1-nce")),
        Layout("table4", "Table 4: DMF-2-nce by negative sampling ratio", "data.neg_ratio", "neg. ratio"),
        Layout("table5", "Table 5: DMF-2-nce by factors of the final layer", "model.factors", "factors"),
        Layout("figure2", "Figure 2: DMF-nce by tower depth", "model.layers", "layers", figure=True),
        Layout(
            "speed",
            "Speed options against the paper's optimisation",
            "speed",
            "speed option (conf/speed/)",
            order=("paper", "large_batch"),
        ),
    )
}

#: Any other sweep or set of runs: one row per distinct configuration (method + varying overrides).
GENERIC = Layout("runs", "Runs", "overrides", "configuration")


def get_layout(name: str | None) -> Layout:
    return LAYOUTS.get(name or "", GENERIC)


def dataset_title(name: str) -> str:
    return DATASETS.get(name, name)


def dataset_order(name: str) -> tuple[int, str]:
    keys = list(DATASETS)
    return (keys.index(name), name) if name in DATASETS else (len(keys), name)
