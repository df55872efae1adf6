"""Parsing raw rating files into columns, with errors that name the file and the line."""

from __future__ import annotations

import gzip
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from deepmf.errors import DataError

COLUMNS = ("user", "item", "rating", "timestamp")


@dataclass(frozen=True)
class RawRatings:
    """One row per rating, ids as they appear in the source file (not yet contiguous)."""

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray  # float32
    timestamps: np.ndarray  # int64; all zeros when the source has no time column
    source: str

    def __len__(self) -> int:
        return len(self.users)

    def subset(self, mask: np.ndarray) -> RawRatings:
        return RawRatings(
            self.users[mask], self.items[mask], self.ratings[mask], self.timestamps[mask], self.source
        )


def read_bytes(path: Path) -> bytes:
    """Read a file, transparently decompressing ``.gz``; a corrupt archive is a DataError."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return path.read_bytes()
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: cannot read ({exc}); the file is truncated or corrupt") from exc


def parse_ratings(
    path: str | Path,
    sep: str,
    columns: tuple[str, ...] = COLUMNS,
    header: bool = False,
    numeric_ids: bool = True,
) -> RawRatings:
    """Parse a delimited ratings file whose columns are named by ``columns``.

    ``columns`` lists the file's fields in order; it must contain ``user`` and ``item``, and may contain
    ``rating`` (else every rating is 1.0, implicit feedback) and ``timestamp`` (else 0). Other names are
    read and ignored. Line numbers in errors count from 1 and include a header line if there is one.
    """
    path = Path(path)
    data = read_bytes(path)
    if not data.strip():
        raise DataError(f"{path}: file is empty")
    if len(sep) > 1:
        # Multi-character separators (MovieLens '::') would force pandas' slow python engine.
        data = data.replace(sep.encode(), b"\t")
        sep = "\t"
    try:
        frame = pd.read_csv(
            io.BytesIO(data),
            sep=sep,
            header=0 if header else None,
            names=list(columns),
            dtype=str,
            engine="c",
            skip_blank_lines=True,
            keep_default_na=False,
        )
    except pd.errors.ParserError as exc:
        raise DataError(f"{path}: {exc} (expected {len(columns)} fields separated by {sep!r})") from exc
    first_line = 2 if header else 1
    # keep_default_na=False: a missing trailing field becomes '' rather than NaN.
    for name in columns:
        empty = (frame[name] == "").to_numpy()
        if empty.any():
            row = int(np.flatnonzero(empty)[0])
            raise DataError(
                f"{path}, line {row + first_line}: field '{name}' is missing "
                f"(expected {len(columns)} fields separated by {sep!r})"
            )

    def numeric(name: str, kind: str) -> np.ndarray:
        values = pd.to_numeric(frame[name], errors="coerce")
        bad = values.isna().to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{path}, line {row + first_line}: {name} {frame[name].iloc[row]!r} is not {kind}"
            )
        return values.to_numpy()

    users = numeric("user", "a number") if numeric_ids else frame["user"].to_numpy()
    items = numeric("item", "a number") if numeric_ids else frame["item"].to_numpy()
    if numeric_ids:
        users, items = users.astype(np.int64), items.astype(np.int64)
    ratings = (
        numeric("rating", "a number").astype(np.float32)
        if "rating" in columns
        else np.ones(len(frame), dtype=np.float32)
    )
    timestamps = (
        numeric("timestamp", "a number").astype(np.int64)
        if "timestamp" in columns
        else np.zeros(len(frame), dtype=np.int64)
    )
    bad_rating = ~np.isfinite(ratings) | (ratings <= 0)
    if bad_rating.any():
        row = int(np.flatnonzero(bad_rating)[0])
        raise DataError(
            f"{path}, line {row + first_line}: rating {frame['rating'].iloc[row]!r} must be a positive "
            "number (0 means 'unknown' in the rating matrix Y)"
        )
    return RawRatings(users, items, ratings, timestamps, str(path))
