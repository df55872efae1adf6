"""Interactions with contiguous ids: the single in-memory form every dataset is turned into."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from deepmf.data.raw import RawRatings, show_id
from deepmf.errors import DataError

log = logging.getLogger(__name__)

#: What the data policies changed, counted in metrics.json (``dataset.policy``) and summary.csv: duplicate
#: (user, item) lines dropped (the latest kept), interactions removed by a minimum-count filter, users with
#: too few ratings to split dropped and their ratings, candidates removed from imported NCF negative lists.
POLICY_COUNTS = (
    "duplicates_dropped",
    "filtered_out",
    "sparse_users_dropped",
    "sparse_user_ratings_dropped",
    "negatives_removed",
)


@dataclass(frozen=True)
class Interactions:
    """Ratings with users in ``0..n_users-1`` and items in ``0..n_items-1``.

    ``user_ids[u]`` / ``item_ids[i]`` give the original id of internal id ``u`` / ``i``. Every internal
    id has at least one rating: ids are never sized by the largest raw id, so there are no phantom items.
    """

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray
    timestamps: np.ndarray
    user_ids: np.ndarray
    item_ids: np.ndarray

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def __len__(self) -> int:
        return len(self.users)

    @property
    def density(self) -> float:
        return len(self) / (self.n_users * self.n_items)


def drop_duplicate_pairs(raw: RawRatings) -> RawRatings:
    """Keep one rating per (user, item): the latest by timestamp (the last line on equal times)."""
    order = np.lexsort((np.arange(len(raw)), raw.timestamps, raw.items, raw.users))
    users, items = raw.users[order], raw.items[order]
    is_last = np.ones(len(order), dtype=bool)
    is_last[:-1] = (users[1:] != users[:-1]) | (items[1:] != items[:-1])
    keep = np.zeros(len(raw), dtype=bool)
    keep[order[is_last]] = True
    duplicates = int(len(order) - is_last.sum())
    if duplicates:
        # Name one example so the user can find it in the file.
        first = order[int(np.flatnonzero(~is_last)[0])]
        example = f"user {show_id(raw.users[first])}, item {show_id(raw.items[first])}"
        if raw.lines is not None:
            pair = np.flatnonzero((raw.users == raw.users[first]) & (raw.items == raw.items[first]))
            kept = pair[keep[pair]][0]
            example += f" on lines {', '.join(map(str, raw.lines[pair]))}: kept line {raw.lines[kept]}"
        log.warning(
            "%s: %d duplicate (user, item) ratings (e.g. %s); kept the latest of each pair",
            raw.source,
            duplicates,
            example,
        )
    return raw.subset(keep)


def drop_sparse_users(raw: RawRatings, min_interactions: int) -> RawRatings:
    """Drop users with fewer than ``min_interactions`` ratings (they cannot be split)."""
    _, inverse, counts = np.unique(raw.users, return_inverse=True, return_counts=True)
    keep = counts[inverse] >= min_interactions
    dropped = int((counts < min_interactions).sum())
    if dropped:
        log.warning(
            "%s: dropped %d users with fewer than %d ratings (%d ratings)",
            raw.source,
            dropped,
            min_interactions,
            int((~keep).sum()),
        )
    if not keep.any():
        raise DataError(
            f"{raw.source}: no user has {min_interactions} or more ratings, so nothing can be split "
            "(validation needs 3 per user; data.validation=false needs 2)"
        )
    return raw.subset(keep)


def to_interactions(raw: RawRatings) -> Interactions:
    """Remap raw ids to contiguous ranges (sorted by raw id, so the mapping is deterministic)."""
    user_ids, users = np.unique(raw.users, return_inverse=True)
    item_ids, items = np.unique(raw.items, return_inverse=True)
    return Interactions(
        users=users.astype(np.int64),
        items=items.astype(np.int64),
        ratings=raw.ratings.astype(np.float32),
        timestamps=raw.timestamps.astype(np.int64),
        user_ids=user_ids,
        item_ids=item_ids,
    )
