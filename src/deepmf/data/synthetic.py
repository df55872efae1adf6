"""Seeded synthetic explicit-feedback data at the scale of real datasets (``data=synthetic``).

Real ML-1M and Amazon data are not always at hand (and may not be redistributed), yet speed and memory
must be measured at their scale. The generator reproduces what matters for cost and for a learnable
signal: power-law user activity (a few users rate a lot), power-law item popularity, a taste structure
(users prefer one of ``n_genres`` item groups), 1-5 star ratings that depend on user and item, and
timestamps for the leave-one-out split. Everything is vectorised; ML-1M scale takes about a second.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from deepmf.data.datamodule import InteractionDataModule
from deepmf.data.raw import RawRatings
from deepmf.errors import ConfigError

#: Bump when the generator's output for given settings changes (it keys the split cache).
GENERATOR_VERSION = 1


@dataclass(frozen=True)
class SyntheticSpec:
    """Sizes and shape of a synthetic dataset (all counts exact except ``n_ratings``, see below)."""

    n_users: int
    n_items: int
    n_ratings: int  # target; per-user counts are rounded, so the total is within about n_users of it
    min_per_user: int = 20  # MovieLens keeps users with >= 20 ratings
    max_per_user: int = 2_314  # the most active ML-1M user
    user_exponent: float = 1.0  # activity of the k-th most active user ~ k^-user_exponent (before the floor)
    item_exponent: float = 0.9  # popularity of the k-th most popular item ~ k^-item_exponent
    n_genres: int = 20
    taste: float = 0.5  # share of a user's ratings drawn from their preferred genre
    seed: int = 0


PRESETS: dict[str, SyntheticSpec] = {
    "ml1m": SyntheticSpec(n_users=6_040, n_items=3_706, n_ratings=1_000_209, min_per_user=20),
    "amazon_movies": SyntheticSpec(
        n_users=15_000,
        n_items=90_000,
        n_ratings=900_000,
        min_per_user=5,
        max_per_user=3_000,
        item_exponent=0.8,
    ),
    "small": SyntheticSpec(n_users=300, n_items=500, n_ratings=15_000, min_per_user=10),
}


def user_counts(spec: SyntheticSpec, rng: np.random.Generator) -> np.ndarray:
    """Ratings per user: ``min_per_user + scale * k^-user_exponent`` capped at ``max_per_user`` (and at
    half the catalogue), with ``scale`` found by bisection so the total matches ``n_ratings``; shuffled."""
    cap = min(spec.max_per_user, spec.n_items // 2)
    if not spec.min_per_user * spec.n_users <= spec.n_ratings <= cap * spec.n_users:
        raise ConfigError(f"synthetic data: {spec} cannot give every user between min and max ratings")
    weights = np.arange(1, spec.n_users + 1, dtype=np.float64) ** -spec.user_exponent

    def total(scale: float) -> np.ndarray:
        return np.minimum(spec.min_per_user + np.floor(scale * weights), cap)

    low, high = 0.0, float(spec.n_ratings) / weights[-1]
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (middle, high) if total(middle).sum() < spec.n_ratings else (low, middle)
    return rng.permutation(total(high).astype(np.int64))


def draw_items(
    users: np.ndarray,
    genre_of_user: np.ndarray,
    cdf: np.ndarray,
    genre_bounds: np.ndarray,
    taste: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """One item per entry of ``users``: from the user's genre with probability ``taste``, else from all
    items, in both cases proportionally to popularity (inverse CDF over items sorted by genre)."""
    lo, hi = np.zeros(len(users)), np.full(len(users), cdf[-1])
    own = rng.random(len(users)) < taste
    genres = genre_of_user[users[own]]
    lo[own], hi[own] = genre_bounds[genres, 0], genre_bounds[genres, 1]
    position = lo + rng.random(len(users)) * (hi - lo)
    return np.searchsorted(cdf, position, side="right").clip(max=len(cdf) - 1)


def heavy_user_keys(
    users: np.ndarray,
    counts: np.ndarray,
    genre_of_user: np.ndarray,
    item_genre: np.ndarray,
    popularity: np.ndarray,
    spec: SyntheticSpec,
    rng: np.random.Generator,
) -> np.ndarray:
    """``user * n_items + item`` keys of ``counts[user]`` distinct items for each of ``users``, drawn
    without replacement with the same mixture weights as :func:`draw_items`."""
    genre_mass = np.bincount(item_genre, weights=popularity, minlength=spec.n_genres)
    base = (1 - spec.taste) * popularity / popularity.sum()
    own = spec.taste * popularity / genre_mass[item_genre]
    out = []
    chunk = max(1, (1 << 22) // spec.n_items)
    for start in range(0, len(users), chunk):
        block = users[start : start + chunk]
        weight = base + own * (item_genre[None, :] == genre_of_user[block, None])
        # log(u) / w: the largest k are a weighted sample of k items without replacement.
        priority = np.log(rng.random(weight.shape)) / weight
        # Priorities are continuous draws: a tie would need two equal doubles, so the sort kind is moot.
        top = np.argsort(-priority, axis=1)
        take = np.arange(spec.n_items)[None, :] < counts[block, None]
        rows, cols = np.nonzero(take)
        out.append(block[rows] * spec.n_items + top[rows, cols])
    return np.concatenate(out) if out else np.empty(0, np.int64)


def generate(spec: SyntheticSpec) -> RawRatings:
    """Ratings with distinct (user, item) pairs, ratings 1..5 and distinct timestamps per user."""
    rng = np.random.default_rng(spec.seed)
    counts = user_counts(spec, rng)
    # Items sorted by genre; popularity is a power law over a random ranking of the items.
    item_genre = np.sort(rng.integers(0, spec.n_genres, spec.n_items))
    popularity = rng.permutation(np.arange(1, spec.n_items + 1, dtype=np.float64) ** -spec.item_exponent)
    cdf = np.cumsum(popularity)
    starts = np.searchsorted(item_genre, np.arange(spec.n_genres))
    ends = np.searchsorted(item_genre, np.arange(spec.n_genres), side="right")
    before = np.concatenate(([0.0], cdf))
    genre_bounds = np.stack([before[starts], before[ends]], axis=1)
    genre_of_user = rng.integers(0, spec.n_genres, spec.n_users)

    # Users who rate a large share of the catalogue: weighted sampling without replacement
    # (Efraimidis-Spirakis top-k of u^(1/w)), in chunks of users. The rest: cheap rejection rounds.
    heavy = counts > spec.n_items // 50
    keys = [heavy_user_keys(np.flatnonzero(heavy), counts, genre_of_user, item_genre, popularity, spec, rng)]
    have = np.where(heavy, counts, 0)
    while True:
        short = np.flatnonzero(have < counts)
        if not short.size:
            break
        need = counts[short] - have[short]
        draw_users = np.repeat(short, need + need // 2 + 4)
        draw = draw_items(draw_users, genre_of_user, cdf, genre_bounds, spec.taste, rng)
        new = draw_users * spec.n_items + draw
        taken = np.sort(np.concatenate(keys))
        if taken.size:
            position = np.searchsorted(taken, new).clip(max=taken.size - 1)
            new = new[taken[position] != new]
        _, first = np.unique(new, return_index=True)
        new = new[np.sort(first)]
        # Rank of each new key within its user (new keys are grouped by user, in draw order).
        new_users = new // spec.n_items
        group_start = np.searchsorted(new_users, new_users)
        rank = np.arange(len(new)) - group_start
        new = new[rank < (counts - have)[new_users]]
        keys.append(new)
        have += np.bincount(new // spec.n_items, minlength=spec.n_users)
    keys = np.concatenate(keys)
    users, items = keys // spec.n_items, keys % spec.n_items

    # Ratings: a user bias, an item quality (popular items a little better) and a genre-match bonus.
    user_bias = rng.normal(0.0, 0.5, spec.n_users)
    quality = rng.normal(0.0, 0.6, spec.n_items) + 0.3 * (popularity / popularity.max()) ** 0.25
    match = (genre_of_user[users] == item_genre[items]) * 0.6
    score = 3.4 + user_bias[users] + quality[items] + match + rng.normal(0.0, 0.7, len(users))
    ratings = np.clip(np.rint(score), 1, 5).astype(np.float32)
    # Timestamps: each user active over a random window; the order of a user's ratings is random.
    first = rng.integers(880_000_000, 1_040_000_000, spec.n_users)
    timestamps = first[users] + rng.permutation(len(users)).astype(np.int64)
    order = rng.permutation(len(users))
    return RawRatings(
        users=users[order] + 1,
        items=items[order] + 1,
        ratings=ratings[order],
        timestamps=timestamps[order],
        source=f"synthetic:{json.dumps(asdict(spec), sort_keys=True)}",
    )


def resolve_spec(preset: str, **overrides: int | float | None) -> SyntheticSpec:
    """A preset with any non-null overrides applied; unknown presets fail naming the allowed ones."""
    if preset not in PRESETS:
        raise ConfigError(f"data.preset must be one of {sorted(PRESETS)}, got {preset!r}")
    return replace(PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None})


class SyntheticDataModule(InteractionDataModule):
    """``data=synthetic``: ratings generated in memory from a preset (``data.preset``), no file needed.

    Args:
        preset: ``ml1m`` (6,040 x 3,706, 1M ratings), ``amazon_movies`` (15k x 90k, 0.9M) or ``small``.
        n_users, n_items, n_ratings, generator_seed: override the preset's sizes and seed when not null.
        **common: the options of :class:`InteractionDataModule`.
    """

    name = "synthetic"

    def __init__(
        self,
        preset: str = "ml1m",
        n_users: int | None = None,
        n_items: int | None = None,
        n_ratings: int | None = None,
        generator_seed: int | None = None,
        **common: object,
    ) -> None:
        super().__init__(**common)  # type: ignore[arg-type]
        self.spec = resolve_spec(
            preset, n_users=n_users, n_items=n_items, n_ratings=n_ratings, seed=generator_seed
        )
        self.name = f"synthetic-{preset}"

    def raw_file(self) -> Path:
        raise ConfigError("synthetic data is generated in memory and has no raw file")

    def parse(self, path: Path) -> RawRatings:
        raise ConfigError("synthetic data is generated in memory and has no raw file")

    def source_id(self) -> tuple[str, str]:
        described = json.dumps([GENERATOR_VERSION, asdict(self.spec)], sort_keys=True)
        return f"synthetic:{described}", hashlib.sha256(described.encode()).hexdigest()

    def load_raw(self) -> RawRatings:
        return generate(self.spec)
