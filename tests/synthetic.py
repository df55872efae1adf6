"""Small synthetic rating files in the real datasets' formats, made by the tests themselves."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def synthetic_ratings(
    n_users: int = 30, n_items: int = 150, per_user: tuple[int, int] = (5, 20), seed: int = 0
) -> np.ndarray:
    """Rows of (user, item, rating, timestamp), 1-based ids, no duplicate pairs, ratings 1..5.

    Items have a popularity skew and users a taste offset, so models have something to learn.
    """
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.7
    rows = []
    for user in range(1, n_users + 1):
        count = int(rng.integers(per_user[0], per_user[1] + 1))
        items = rng.choice(n_items, size=count, replace=False, p=popularity / popularity.sum()) + 1
        times = 880_000_000 + rng.integers(0, 10_000_000, size=count)
        ratings = rng.integers(1, 6, size=count)
        rows += [(user, int(i), int(r), int(t)) for i, r, t in zip(items, ratings, times)]
    return np.array(rows, dtype=np.int64)


def write_ml100k(data_dir: Path, **kwargs: object) -> Path:
    """Write ``<data_dir>/ml-100k/u.data`` (tab-separated) and return its path."""
    path = data_dir / "ml-100k" / "u.data"
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = synthetic_ratings(**kwargs)  # type: ignore[arg-type]
    path.write_text("".join("\t".join(map(str, row)) + "\n" for row in rows))
    return path


def write_ml1m(data_dir: Path, **kwargs: object) -> Path:
    """Write ``<data_dir>/ml-1m/ratings.dat`` (``::``-separated) and return its path."""
    path = data_dir / "ml-1m" / "ratings.dat"
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = synthetic_ratings(**kwargs)  # type: ignore[arg-type]
    path.write_text("".join("::".join(map(str, row)) + "\n" for row in rows))
    return path
