"""Splits in the NCF file format (He et al., WWW 2017), read and written.

``<name>.train.rating`` / ``<name>.test.rating``: ``user<TAB>item<TAB>rating[<TAB>timestamp]``, 0-based
ids, one test line per user; ``<name>.test.negative``: ``(user,item)<TAB>neg1<TAB>neg2...``, one line per
test line, in the same order. Any of them may be gzipped (``.gz``). deepmf also reads and writes
``<name>.valid.rating`` (one validation item per user, same format), which NCF tools ignore.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepmf.data.datamodule import InteractionDataModule
from deepmf.data.download import sha256_of
from deepmf.data.fields import NCF_FIELDS, NCF_ID, FieldError
from deepmf.data.interactions import drop_duplicate_pairs
from deepmf.data.paths import file_present
from deepmf.data.raw import COLUMNS, RawRatings, parse_ratings, read_bytes
from deepmf.data.split import LeaveOneOutSplit
from deepmf.errors import ConfigError, DataError

log = logging.getLogger(__name__)

KNOWN_NEGATIVES = ("keep", "drop")


@dataclass(frozen=True)
class NCFFiles:
    train: Path
    test: Path
    negative: Path
    valid: Path | None  # deepmf's own addition; absent from published NCF splits


def find_ncf_files(directory: str | Path, name: str) -> NCFFiles:
    """The split's files under ``directory``, each plain or ``.gz``; errors name what is missing."""
    root = Path(directory).expanduser()

    def find(suffix: str, required: bool = True) -> Path | None:
        for candidate in (root / f"{name}.{suffix}", root / f"{name}.{suffix}.gz"):
            if file_present(candidate):
                return candidate
        if required:
            raise DataError(
                f"{root / f'{name}.{suffix}'} (or .gz) not found: an NCF split needs {name}.train.rating, "
                f"{name}.test.rating and {name}.test.negative in data.dir"
            )
        return None

    train, test, negative = find("train.rating"), find("test.rating"), find("test.negative")
    assert train and test and negative
    return NCFFiles(train, test, negative, find("valid.rating", required=False))


def read_ncf_ratings(path: Path) -> RawRatings:
    """A ``.rating`` file: 3 fields (DeepCF) or 4 (NCF, with timestamp), detected from the first line."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            fields = len(handle.readline().split())
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read ({exc}); the file is truncated or corrupt") from exc
    if fields not in (3, 4):
        raise DataError(
            f"{path}, line 1: expected 3 (user item rating) or 4 (... timestamp) tab-separated fields, "
            f"got {fields}"
        )
    return parse_ratings(path, sep="\t", columns=COLUMNS[:fields], fields=NCF_FIELDS)


def read_ncf_negatives(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(users, test_items, negatives)``: one row per line; rows padded with -1 to the longest list.

    Every id is read by the NCF id rule (:data:`deepmf.data.fields.NCF_ID`), naming the line of a bad one.
    """
    heads: list[str] = []
    tokens: list[str] = []
    numbers, lengths = [], []
    for number, line in enumerate(read_bytes(path).decode().splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        head = fields[0]
        pair = head[1:-1].split(",") if head.startswith("(") and head.endswith(")") else []
        if len(pair) != 2:
            raise DataError(
                f"{path}, line {number}: expected '(user,item)' and negative item ids separated by tabs, "
                f"got {line[:60]!r}"
            )
        heads += pair
        tokens += fields[1:]
        numbers.append(number)
        lengths.append(len(fields) - 1)
    if not heads:
        raise DataError(f"{path}: file is empty")
    line_of_head = np.repeat(numbers, 2)
    line_of_token = np.repeat(np.asarray(numbers, dtype=np.int64), lengths)
    pairs = _read_ids(path, heads, line_of_head, "the '(user,item)' pair").reshape(-1, 2)
    values = _read_ids(path, tokens, line_of_token, "a negative item id")
    lengths_array = np.asarray(lengths)
    negatives = np.full((len(lengths), int(lengths_array.max())), -1, dtype=np.int64)
    negatives[np.arange(negatives.shape[1]) < lengths_array[:, None]] = values
    return pairs[:, 0], pairs[:, 1], negatives


def _read_ids(path: Path, texts: list[str], lines: np.ndarray, what: str) -> np.ndarray:
    """``texts`` read as NCF ids; a bad one is an error naming its line."""
    try:
        return NCF_ID.read("id", pd.Series(texts, dtype=str).str.strip())
    except FieldError as exc:
        raise DataError(f"{path}, line {lines[exc.row]}: {what}: {exc.message}") from None


def clean_negatives(
    negatives: np.ndarray, targets: np.ndarray, known_keys: np.ndarray, n_items: int, drop_known: bool
) -> tuple[np.ndarray, dict[str, int]]:
    """Deduplicate each user's candidate list; rows stay in their order, padded with -1 at the end.

    Removed: repeats of an id, the user's own test item (``targets``), and, with ``drop_known``, items
    the user rated in training (``known_keys``: sorted ``user * n_items + item``). Returns counts of each.
    """
    valid = negatives >= 0
    is_target = valid & (negatives == targets[:, None])
    by_value = np.argsort(negatives, axis=1, kind="stable")  # stable: the first copy is the one kept
    ordered = np.take_along_axis(negatives, by_value, axis=1)
    repeat_sorted = np.zeros_like(valid)
    repeat_sorted[:, 1:] = ordered[:, 1:] == ordered[:, :-1]
    repeat = np.empty_like(valid)
    np.put_along_axis(repeat, by_value, repeat_sorted, axis=1)
    repeat &= valid & ~is_target
    keys = np.arange(len(negatives))[:, None] * n_items + negatives
    position = np.searchsorted(known_keys, keys).clip(max=max(len(known_keys) - 1, 0))
    known = valid & ~is_target & ~repeat & (known_keys[position] == keys if len(known_keys) else False)
    drop = ~valid | is_target | repeat | (known if drop_known else False)
    order = np.argsort(drop, axis=1, kind="stable")
    cleaned = np.take_along_axis(negatives, order, axis=1)
    cleaned[np.take_along_axis(drop, order, axis=1)] = -1
    width = int((~drop).sum(1).max(initial=0))
    counts = {
        "lists_with_test_item": int(is_target.any(1).sum()),
        "test_item_copies": int(is_target.sum()),
        "repeats": int(repeat.sum()),
        "known": int(known.sum()),
        "users_with_known": int(known.any(1).sum()),
    }
    return cleaned[:, :width], counts


def one_per_user(raw: RawRatings, n_users: int, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(items, ratings)`` indexed by user, -1 / 0 for users without a line; a second line is an error."""
    users, counts = np.unique(raw.users, return_counts=True)
    if (counts > 1).any():
        raise DataError(f"{path}: user {int(users[counts > 1][0])} has more than one line")
    items = np.full(n_users, -1, dtype=np.int64)
    ratings = np.zeros(n_users, dtype=np.float32)
    items[raw.users], ratings[raw.users] = raw.items, raw.ratings
    return items, ratings


def random_holdout(users: np.ndarray, items: np.ndarray, n_users: int, seed: int) -> np.ndarray:
    """Row index of one random interaction per user with >= 2 of them (-1 otherwise), seeded.

    Rows are ordered by (user, item) first, so the choice does not depend on the order of lines.
    """
    order = np.lexsort((items, users))
    counts = np.bincount(users, minlength=n_users)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    draws = (np.random.default_rng(seed).random(n_users) * counts).astype(np.int64)
    picked = np.full(n_users, -1, dtype=np.int64)
    eligible = counts >= 2
    picked[eligible] = order[(starts + draws)[eligible]]
    return picked


def build_ncf_split(files: NCFFiles, validation: bool, seed: int, drop_known: bool) -> LeaveOneOutSplit:
    """A :class:`LeaveOneOutSplit` evaluated on exactly the file's candidates (deduplicated).

    Validation: the ``.valid.rating`` file when there is one, else one random training interaction per
    user with >= 2 of them (seeded); with ``validation=False`` a validation file is folded into training.
    """
    all_train = read_ncf_ratings(files.train)
    train = drop_duplicate_pairs(all_train)
    test = read_ncf_ratings(files.test)
    valid = read_ncf_ratings(files.valid) if files.valid else None
    neg_users, neg_items, negatives = read_ncf_negatives(files.negative)
    if not (np.array_equal(neg_users, test.users) and np.array_equal(neg_items, test.items)):
        n = min(len(neg_users), len(test))
        differ = np.flatnonzero((neg_users[:n] != test.users[:n]) | (neg_items[:n] != test.items[:n]))
        mismatch = int(differ[0]) if differ.size else n
        raise DataError(
            f"{files.negative}: line {mismatch + 1} does not match line {mismatch + 1} of {files.test} "
            "(each negative line starts with the '(user,item)' of the test line in the same position)"
        )
    parts = [train, test] + ([valid] if valid else [])
    n_users = int(max(part.users.max(initial=-1) for part in parts)) + 1
    n_items = int(max(max(part.items.max(initial=-1) for part in parts), negatives.max())) + 1

    test_items, test_ratings = one_per_user(test, n_users, files.test)
    train_users, train_items, train_ratings = train.users, train.items, train.ratings
    val_items, val_ratings = np.empty(0, np.int64), np.empty(0, np.float32)
    if valid is not None and validation:
        val_items, val_ratings = one_per_user(valid, n_users, files.valid)  # type: ignore[arg-type]
    elif valid is not None:
        train_users = np.concatenate([train_users, valid.users])
        train_items = np.concatenate([train_items, valid.items])
        train_ratings = np.concatenate([train_ratings, valid.ratings])
    elif validation:
        picked = random_holdout(train_users, train_items, n_users, seed)
        has = picked >= 0
        val_items, val_ratings = np.full(n_users, -1, np.int64), np.zeros(n_users, np.float32)
        val_items[has], val_ratings[has] = train_items[picked[has]], train_ratings[picked[has]]
        keep = np.ones(len(train_users), dtype=bool)
        keep[picked[has]] = False
        train_users, train_items, train_ratings = train_users[keep], train_items[keep], train_ratings[keep]
        if (~has).any():
            log.warning(
                "%s: %d users have fewer than 2 training ratings and no validation item",
                files.train,
                int((~has).sum()),
            )

    leaked = np.isin(test.users * n_items + test.items, train_users * n_items + train_items)
    if leaked.any():
        log.warning("%s: %d test pairs also appear in training", files.test, int(leaked.sum()))
    by_user = np.full((n_users, negatives.shape[1]), -1, dtype=np.int64)
    by_user[neg_users] = negatives
    # Known = the user's training (and validation) items; the test item is handled on its own.
    known_users, known_items = [train_users], [train_items]
    if len(val_items):
        present = np.flatnonzero(val_items >= 0)
        known_users.append(present)
        known_items.append(val_items[present])
    known_keys = np.unique(np.concatenate(known_users) * n_items + np.concatenate(known_items))
    cleaned, counts = clean_negatives(by_user, test_items, known_keys, n_items, drop_known)
    log.info(
        "%s: %d lists contained the user's test item (%d copies removed), %d repeated ids removed; "
        "%d negatives of %d users are items they rated in training (%s; data.known_negatives)",
        files.negative,
        counts["lists_with_test_item"],
        counts["test_item_copies"],
        counts["repeats"],
        counts["known"],
        counts["users_with_known"],
        "dropped" if drop_known else "kept, as the published evaluators did",
    )
    removed = counts["test_item_copies"] + counts["repeats"] + (counts["known"] if drop_known else 0)
    all_ratings = np.concatenate([train_ratings, test.ratings] + ([valid.ratings] if valid else []))
    return LeaveOneOutSplit(
        n_users=n_users,
        n_items=n_items,
        train_users=train_users.astype(np.int64),
        train_items=train_items.astype(np.int64),
        train_ratings=train_ratings.astype(np.float32),
        test_items=test_items,
        test_ratings=test_ratings,
        val_items=val_items,
        val_ratings=val_ratings.astype(np.float32),
        eval_negatives=cleaned,
        max_rating=float(all_ratings.max()),
        policy={
            "duplicates_dropped": len(all_train) - len(train),
            "negatives_removed": removed,
        },
    )


def write_ncf(split: LeaveOneOutSplit, directory: str | Path, name: str) -> list[Path]:
    """Write ``split`` as ``<name>.{train,valid,test}.rating`` and ``<name>.test.negative`` (plain text).

    Ratings keep their values; timestamps are not part of a split, so lines have 3 fields (as DeepCF's).
    The validation file is written only when the split has validation items.
    """
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)

    def write_ratings(path: Path, users: np.ndarray, items: np.ndarray, ratings: np.ndarray) -> Path:
        order = np.lexsort((items, users))
        lines = [f"{u}\t{i}\t{r:g}\n" for u, i, r in zip(users[order], items[order], ratings[order])]
        path.write_text("".join(lines))
        return path

    def held_out(items: np.ndarray, ratings: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        users = np.flatnonzero(items >= 0)
        return users, items[users], ratings[users]

    written = [
        write_ratings(
            root / f"{name}.train.rating", split.train_users, split.train_items, split.train_ratings
        )
    ]
    if split.has_validation:
        written.append(
            write_ratings(root / f"{name}.valid.rating", *held_out(split.val_items, split.val_ratings))
        )
    test_users, test_items, test_ratings = held_out(split.test_items, split.test_ratings)
    written.append(write_ratings(root / f"{name}.test.rating", test_users, test_items, test_ratings))
    lines = []
    for user, item in zip(test_users, test_items):
        row = split.eval_negatives[user]
        lines.append("\t".join([f"({user},{item})", *map(str, row[row >= 0])]) + "\n")
    negative = root / f"{name}.test.negative"
    negative.write_text("".join(lines))
    written.append(negative)
    return written


class NCFSplit(InteractionDataModule):
    """A split given as NCF files (``data.name``, ``data.dir``), evaluated on exactly its candidates.

    Candidates are deduplicated (a copy of the test item, or a repeated id, would be ranked twice);
    ``known_negatives`` says what to do with negatives the user rated in training (DeepCF's AMusic has
    348): ``keep`` them, as the published evaluators did (the default, so numbers stay comparable), or
    ``drop`` them. ``eval_negatives`` and ``ratings_path`` are not used.
    """

    def __init__(self, name: str, dir: str, known_negatives: str = "keep", **common: Any) -> None:
        super().__init__(**common)
        if known_negatives not in KNOWN_NEGATIVES:
            raise ConfigError(
                f"data.known_negatives must be one of {KNOWN_NEGATIVES}, got {known_negatives!r}"
            )
        self.split_name = name
        self.dir = dir
        self.drop_known = known_negatives == "drop"
        self.name = f"ncf-{name}"

    def files(self) -> NCFFiles:
        return find_ncf_files(self.dir, self.split_name)

    def raw_file(self) -> Path:
        return self.files().train

    def parse(self, path: Path) -> RawRatings:
        return read_ncf_ratings(path)

    def fingerprint(self, path: Path) -> str:
        files = self.files()
        digests = [sha256_of(p) for p in (files.train, files.test, files.negative, files.valid) if p]
        return hashlib.sha256(" ".join(digests).encode()).hexdigest()

    def split_settings(self) -> list[Any]:
        return [self.validation, self.split_seed, self.drop_known]

    def _build_split(self, source: str) -> LeaveOneOutSplit:
        return build_ncf_split(self.files(), self.validation, self.split_seed, self.drop_known)
