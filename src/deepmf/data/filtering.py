"""Minimum-interaction filters (the paper keeps Amazon users with >= 20 and items with >= 5 ratings)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from deepmf.data.raw import RawRatings
from deepmf.errors import ConfigError

log = logging.getLogger(__name__)

FILTER_MODES = ("once", "until_stable")


def check_filter_options(min_user: int, min_item: int, mode: str) -> None:
    """Fail on invalid filter options before anything is loaded."""
    for key, value in (("min_user_interactions", min_user), ("min_item_interactions", min_item)):
        if not isinstance(value, int) or value < 0:
            raise ConfigError(f"data.{key} must be an integer >= 0, got {value!r}")
    if mode not in FILTER_MODES:
        raise ConfigError(f"data.filter must be one of {FILTER_MODES}, got {mode!r}")


def min_count_filter(raw: RawRatings, min_user: int, min_item: int, mode: str = "once") -> RawRatings:
    """Keep interactions of users with >= ``min_user`` and items with >= ``min_item`` of them.

    ``once``: drop sparse items, then sparse users, one pass each (as the independent reproduction of
    DMF did on Amazon, Ferrari Dacrema et al., TOIS 2021). Every user then has >= ``min_user``
    interactions, as in the DMF authors' own Amusic file, but an item may fall below ``min_item`` when
    its users are dropped. ``until_stable``: repeat both until nothing changes (the iterative k-core):
    both bounds hold afterwards, and the result does not depend on the order of the two filters.
    Count pairs once: call after :func:`~deepmf.data.interactions.drop_duplicate_pairs`.
    """
    check_filter_options(min_user, min_item, mode)
    # Integer codes make each pass two bincounts, whatever the id type (Amazon ids are strings).
    users = pd.factorize(raw.users)[0]
    items = pd.factorize(raw.items)[0]
    keep = np.ones(len(raw), dtype=bool)
    passes = 0
    while True:
        before = int(keep.sum())
        for codes, minimum in ((items, min_item), (users, min_user)):
            counts = np.bincount(codes[keep], minlength=codes.max(initial=-1) + 1)
            keep &= counts[codes] >= minimum
        passes += 1
        if mode == "once" or int(keep.sum()) == before:
            break
    log.info(
        "%s: filter users >= %d, items >= %d (%s, %d passes) kept %d of %d interactions",
        raw.source,
        min_user,
        min_item,
        mode,
        passes,
        int(keep.sum()),
        len(raw),
    )
    return raw.subset(keep)
