"""Leave-one-out split (latest interaction = test), optional validation item, fixed evaluation negatives."""

from __future__ import annotations

import json
import logging
import zipfile
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from deepmf.data.interactions import Interactions
from deepmf.data.raw import show_id
from deepmf.errors import DataError
from deepmf.io import write_atomic

log = logging.getLogger(__name__)

#: Bump when the split algorithm changes, so stale caches are never reused.
#: 2: timestamp ties broken by a seeded item order, not by the largest id. 3: the policy counts are kept,
#: and parsing refuses values it used to change (a wrapped uint64 id): a split cached from such a file
#: must be rebuilt, so that the file is read again and refused.
SPLIT_VERSION = 3


@dataclass(frozen=True)
class LeaveOneOutSplit:
    """Train interactions plus one test (and optionally one validation) item per user.

    ``eval_negatives[u]`` holds items user ``u`` never interacted with (train, validation or test); the
    same candidates serve the validation and the test ranking, and every model, so results are comparable.
    """

    n_users: int
    n_items: int
    train_users: np.ndarray
    train_items: np.ndarray
    train_ratings: np.ndarray
    test_items: np.ndarray
    test_ratings: np.ndarray
    val_items: np.ndarray  # empty when validation is switched off
    val_ratings: np.ndarray
    eval_negatives: np.ndarray  # (n_users, n_negatives)
    max_rating: float
    #: What the data policies changed on the way to this split (keys: ``POLICY_COUNTS``).
    policy: dict[str, int] = field(default_factory=dict)

    @property
    def has_validation(self) -> bool:
        return len(self.val_items) > 0

    def save(self, path: str | Path) -> None:
        """Write the split as a plain ``.npz`` (no pickle), atomically."""
        arrays = {f.name: np.asarray(getattr(self, f.name)) for f in fields(self) if f.name != "policy"}
        arrays |= {"policy": np.asarray(json.dumps(self.policy)), "version": np.asarray(SPLIT_VERSION)}

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as handle:
                np.savez(handle, **arrays)

        write_atomic(path, write)

    @classmethod
    def load(cls, path: str | Path) -> LeaveOneOutSplit:
        """Read a cache written by :meth:`save`; anything unreadable (or pickled) is a DataError."""
        try:
            with np.load(path, allow_pickle=False) as stored:
                if int(stored["version"]) != SPLIT_VERSION:
                    raise DataError(f"{path}: split cache has an old format; delete it to rebuild")
                values = {f.name: stored[f.name] for f in fields(cls)}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            # ValueError also covers object arrays, which would need pickle: never loaded.
            raise DataError(f"{path}: unreadable split cache ({exc}); delete it to rebuild") from exc
        for name in ("n_users", "n_items"):
            values[name] = int(values[name])
        values["max_rating"] = float(values["max_rating"])
        values["policy"] = json.loads(str(values["policy"]))
        return cls(**values)


def leave_one_out(data: Interactions, validation: bool, n_negatives: int, seed: int) -> LeaveOneOutSplit:
    """Split each user's ratings into train / (validation) / test.

    Test item: the user's latest rating. Among ratings sharing the latest timestamp (415 of 943 ML-100k users
    have such ties), the pick follows one random order of the items drawn from ``seed``: deterministic,
    independent of the order of lines in the file, and unrelated to popularity. (Taking the largest original
    id instead would favour the newest, least popular items: ItemPop's test HR@10 on ML-100k drops from .41
    to .31 under that rule; see benchmarks/tie_rule_effect.py.)
    Validation item: one of the remaining ratings, uniformly at random (seeded), as in the paper's tuning.
    Every user needs at least 2 ratings (3 with validation); callers drop sparser users first.
    """
    rng = np.random.default_rng(seed)
    # Internal ids follow the original ids, so a permutation of them does not depend on line order.
    item_rank = rng.permutation(data.n_items)
    order = np.lexsort((item_rank[data.items], data.timestamps, data.users))
    users = data.users[order]
    counts = np.bincount(users, minlength=data.n_users)
    needed = 3 if validation else 2
    if (counts < needed).any():
        user = int(np.flatnonzero(counts < needed)[0])
        raise DataError(
            f"user {show_id(data.user_ids[user])} has {counts[user]} ratings; leave-one-out needs {needed}"
        )
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    test_pos = starts + counts - 1
    held_out = [test_pos]
    if validation:
        val_pos = starts + (rng.random(data.n_users) * (counts - 1)).astype(np.int64)
        held_out.append(val_pos)
    train_mask = np.ones(len(order), dtype=bool)
    for positions in held_out:
        train_mask[positions] = False
    train = order[train_mask]

    def held(positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = order[positions]
        return data.items[rows], data.ratings[rows]

    test_items, test_ratings = held(test_pos)
    val_items, val_ratings = held(held_out[1]) if validation else (np.empty(0, np.int64),) * 2
    negatives = sample_eval_negatives(data, n_negatives, rng)
    return LeaveOneOutSplit(
        n_users=data.n_users,
        n_items=data.n_items,
        train_users=data.users[train],
        train_items=data.items[train],
        train_ratings=data.ratings[train],
        test_items=test_items,
        test_ratings=test_ratings,
        val_items=val_items,
        val_ratings=val_ratings.astype(np.float32),
        eval_negatives=negatives,
        max_rating=float(data.ratings.max()),
    )


def sample_eval_negatives(data: Interactions, n_negatives: int, rng: np.random.Generator) -> np.ndarray:
    """Sample, per user, ``n_negatives`` distinct items the user never interacted with.

    Vectorised rejection sampling: every round draws candidates for all users still short of negatives,
    rejects the user's own items and repeats, and keeps the first valid ones in draw order.
    """
    n_users, n_items = data.n_users, data.n_items
    known = np.unique(data.users * n_items + data.items)
    per_user = np.bincount(known // n_items, minlength=n_users)
    short = per_user > n_items - n_negatives
    if short.any():
        user = int(np.flatnonzero(short)[0])
        raise DataError(
            f"user {show_id(data.user_ids[user])} interacted with {per_user[user]} of {n_items} items, "
            f"leaving fewer than data.eval_negatives={n_negatives} items to sample negatives from; lower "
            "data.eval_negatives or filter such users"
        )
    result = np.full((n_users, n_negatives), -1, dtype=np.int64)
    filled = np.zeros(n_users, dtype=np.int64)
    pending = np.arange(n_users)
    while pending.size:
        draws = max(2 * n_negatives, 16)
        candidates = rng.integers(0, n_items, size=(pending.size, draws))
        keys = pending[:, None] * n_items + candidates
        position = np.searchsorted(known, keys).clip(max=len(known) - 1)
        valid = known[position] != keys
        # Reject repeats of an item already chosen for the user, or drawn earlier in this round.
        pool = np.concatenate([result[pending], candidates], axis=1)
        by_value = np.argsort(pool, axis=1, kind="stable")
        ordered = np.take_along_axis(pool, by_value, axis=1)
        repeat_sorted = np.zeros_like(ordered, dtype=bool)
        repeat_sorted[:, 1:] = ordered[:, 1:] == ordered[:, :-1]
        repeat = np.empty_like(repeat_sorted)
        np.put_along_axis(repeat, by_value, repeat_sorted, axis=1)
        valid &= ~repeat[:, n_negatives:]
        rank = np.cumsum(valid, axis=1)
        need = (n_negatives - filled[pending])[:, None]
        take = valid & (rank <= need)
        rows, cols = np.nonzero(take)
        slots = filled[pending][rows] + rank[rows, cols] - 1
        result[pending[rows], slots] = candidates[rows, cols]
        filled[pending] += take.sum(axis=1)
        pending = pending[filled[pending] < n_negatives]
    return result
