"""What the project is measured against (docs/anchors.md): the paper's claims and others' numbers.

These are published facts, not results of this code: the report prints them beside ours.
"""

from __future__ import annotations

#: Table 1 of the paper: users, items, ratings, density.
PAPER_TABLE1: dict[str, dict[str, float]] = {
    "ml100k": {"users": 944, "items": 1683, "ratings": 100_000, "density": 0.06294},
    "ml1m": {"users": 6040, "items": 3706, "ratings": 1_000_209, "density": 0.04468},
    "amusic": {"users": 844, "items": 18_813, "ratings": 46_468, "density": 0.00292},
    "amovie": {"users": 9582, "items": 92_221, "ratings": 766_759, "density": 0.00087},
}
PAPER_TABLE1_NOTE = "the paper counts 944 users / 1,683 items on ML100k (943 / 1,682 real ids)"

#: The paper's textual claims per artefact (its tables' numeric bodies are not available to us).
PAPER_CLAIMS: dict[str, list[str]] = {
    "table2": [
        "DMF-2-nce beats NeuMF-p by +2.5..7.4% NDCG@10 and +1.4..6.8% HR@10",
        "nce beats ce on every dataset except Amusic",
    ],
    "table3": ["LFM-nce vs DMF-1-nce: Y's rows/columns as input against learned input vectors"],
    "table4": ["a negative ratio of about 5 is best on all datasets"],
    "table5": ["64 final-layer factors are best, except on Amusic (128)"],
    "figure2": ["2 layers are best; a third layer hurts (ML100k, ML1m)"],
}

#: The paper's claims as tests: per artefact, one entry per claim of PAPER_CLAIMS (same order). A pair
#: ``(ours, baseline)`` claims ``ours`` beats ``baseline``; a dict claims a factor value is best (by
#: dataset, ``"*"`` for the others).
CLAIMED_BEST: dict[str, list[tuple[str, str] | dict[str, object]]] = {
    "table2": [("DMF-2-nce", "NeuMF-p"), ("DMF-2-nce", "DMF-2-ce")],
    "table3": [("DMF-1-nce", "LFM-nce")],
    "table4": [{"*": 5}],
    "table5": [{"*": 64, "amusic": 128}],
    "figure2": [{"*": 2}],
}

REPRODUCTION_SOURCE = (
    "Ferrari Dacrema et al., ACM TOIS 2021, appendix M: the authors' DMF code and tuned baselines; "
    "leave-last-out, 99 sampled negatives, final model retrained on train + validation"
)
#: (HR@10, NDCG@10) by our method label -> dataset, with the reproduction's own method name.
REPRODUCTION: dict[str, tuple[str, dict[str, tuple[float, float]]]] = {
    "ItemPop": (
        "TopPop",
        {"amusic": (0.4372, 0.2489), "ml100k": (0.4145, 0.2342), "ml1m": (0.4418, 0.2475),
         "amovie": (0.5794, 0.3489)},
    ),
    "ItemKNN": (
        "ItemKNN cosine",
        {"amusic": (0.5450, 0.3944), "ml100k": (0.5781, 0.3363), "ml1m": (0.6347, 0.3808),
         "amovie": (0.6983, 0.4967)},
    ),
    "eALS": (
        "iALS (closest to eALS)",
        {"amusic": (0.5533, 0.4033), "ml100k": (0.6142, 0.3691), "ml1m": (0.6947, 0.4257),
         "amovie": (0.7352, 0.5230)},
    ),
    "EASE": (
        "EASE^R",
        {"amusic": (0.5213, 0.3881), "ml100k": (0.6089, 0.3571), "ml1m": (0.6693, 0.4100)},
    ),
    "DMF-2-nce": (
        "DMF nce (authors' code)",
        {"amusic": (0.3863, 0.2773), "ml100k": (0.5930, 0.3410), "ml1m": (0.6266, 0.3768),
         "amovie": (0.6832, 0.4677)},
    ),
    "DMF-2-ce": (
        "DMF bce (authors' code)",
        {"amusic": (0.5427, 0.3850), "ml100k": (0.6026, 0.3623), "ml1m": (0.6731, 0.4033),
         "amovie": (0.7818, 0.5417)},
    ),
}  # fmt: skip
REPRODUCTION_FINDING = "nce was worse than bce on every dataset, contrary to the paper"

#: NCF (He et al., WWW 2017), ML1m, 99 negatives, NeuMF with pretraining and 64 predictive factors.
NCF_NEUMF_P_ML1M = (0.730, 0.447)
