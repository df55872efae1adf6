"""Parsing raw rating files into columns, with errors that name the file, the line and what is wrong."""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from deepmf.data.fields import INTEGER_IDS, FieldError, Fields
from deepmf.data.paths import file_present
from deepmf.errors import DataError

COLUMNS = ("user", "item", "rating", "timestamp")
GZIP_MAGIC, ZIP_MAGIC = b"\x1f\x8b", b"PK\x03\x04"
#: Delimiters named in the hint when a line has the wrong number of fields.
COMMON_SEPARATORS = ("::", "\t", ",", ";", "|", " ")


@dataclass(frozen=True)
class RawRatings:
    """One row per rating, ids as they appear in the source file (not yet contiguous)."""

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray  # float32
    timestamps: np.ndarray  # int64; all zeros when the source has no time column
    source: str
    lines: np.ndarray | None = None  # 1-based line of each rating in the source, for messages

    def __len__(self) -> int:
        return len(self.users)

    def subset(self, mask: np.ndarray) -> RawRatings:
        lines = self.lines[mask] if self.lines is not None else None
        return RawRatings(
            self.users[mask], self.items[mask], self.ratings[mask], self.timestamps[mask], self.source, lines
        )

    def where(self, row: int) -> str:
        """``"<file>, line N"`` for row ``row`` (just the file when lines are unknown)."""
        if self.lines is None:
            return self.source
        return f"{self.source}, line {int(self.lines[row])}"


def show_id(value: object) -> str:
    """An id as a user wrote it: ``7`` or ``'A1B2'`` (numpy scalars would print as ``np.int64(7)``)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def read_bytes(path: Path) -> bytes:
    """Read a file, decompressing gzip (by content, not only by suffix); a corrupt file is a DataError."""
    if not file_present(path):
        raise DataError(f"{path}: file not found")
    try:
        with open(path, "rb") as handle:
            magic = handle.read(4)
        if magic.startswith(GZIP_MAGIC) or path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                return handle.read()
        if magic == ZIP_MAGIC:
            raise DataError(f"{path}: is a zip archive; extract the ratings file and point to it")
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read ({exc}); the file is truncated or corrupt") from exc


def _bad_field_count(
    path: Path, data: bytes, sep: str, columns: Sequence[str], header: bool
) -> DataError | None:
    """The error for the first line whose number of fields is not ``len(columns)``, if there is one."""
    expected = len(columns)
    for number, line in enumerate(data.split(b"\n"), start=1):
        text = line.rstrip(b"\r").decode("utf-8", errors="replace")
        if (header and number == 1) or not text.strip():
            continue
        found = text.count(sep) + 1
        if found != expected:
            others = [s for s in COMMON_SEPARATORS if s != sep and s in text]
            hint = f"; the line contains {others[0]!r}: wrong delimiter?" if found == 1 and others else ""
            return DataError(
                f"{path}, line {number}: {found} field(s) separated by {sep!r}, expected {expected} "
                f"({', '.join(columns)}): {text[:80]!r}{hint}"
            )
    return None


def parse_ratings(
    path: str | Path,
    sep: str,
    columns: tuple[str, ...] = COLUMNS,
    header: bool = False,
    fields: Fields = INTEGER_IDS,
) -> RawRatings:
    """Parse a delimited ratings file (plain or gzip) whose columns are named by ``columns``.

    ``columns`` lists the file's fields in order; it must contain ``user`` and ``item``, and may contain
    ``rating`` (else every rating is 1.0, implicit feedback) and ``timestamp`` (else 0). Other names are
    read and ignored. Blank lines are skipped. Line numbers in errors are the file's own (counting from 1,
    blank lines and a header line included; of the decompressed text for .gz). Each column is read by its
    rule in ``fields`` (the file format's, see :mod:`deepmf.data.fields`): a value it cannot read exactly,
    or that the format rules out, is an error naming the file, the line and the value.
    """
    path = Path(path)
    original = read_bytes(path)
    if not original.strip():
        raise DataError(f"{path}: file is empty")
    data, pandas_sep = original, sep
    if len(sep) > 1:
        # Multi-character separators (MovieLens '::') would force pandas' slow python engine.
        data, pandas_sep = original.replace(sep.encode(), b"\t"), "\t"
    try:
        frame = pd.read_csv(
            io.BytesIO(data),
            sep=pandas_sep,
            header=0 if header else None,
            names=list(columns),
            index_col=False,
            dtype=str,
            engine="c",
            # Blank lines are kept as empty rows and dropped below, so row i stays line i + first_line.
            skip_blank_lines=False,
            keep_default_na=False,
            quoting=csv.QUOTE_NONE,  # a stray quote must not swallow the lines after it
        )
    except pd.errors.ParserError as exc:
        raise _bad_field_count(path, original, sep, columns, header) or DataError(f"{path}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc}); is it a binary file?") from exc
    lines = np.arange(len(frame), dtype=np.int64) + (2 if header else 1)
    # A blank (or whitespace-only) line has nothing after its first field; strip only those candidates.
    blank = np.ones(len(frame), dtype=bool)
    for name in columns[1:]:
        blank &= (frame[name] == "").to_numpy()
    if blank.any():
        blank[blank] = (frame[columns[0]][blank].str.strip() == "").to_numpy()
    if blank.any():
        frame, lines = frame[~blank].reset_index(drop=True), lines[~blank]
    if len(frame) == 0:
        raise DataError(f"{path}: no ratings (only a header or blank lines)")
    # keep_default_na=False: a missing trailing field becomes '' rather than NaN.
    for name in columns:
        frame[name] = frame[name].str.strip()
        empty = (frame[name] == "").to_numpy()
        if empty.any():
            row = int(np.flatnonzero(empty)[0])
            raise _bad_field_count(path, original, sep, columns, header) or DataError(
                f"{path}, line {lines[row]}: field '{name}' is empty"
            )

    def read(name: str) -> np.ndarray:
        try:
            return fields[name].read(name, frame[name])
        except FieldError as exc:
            hint = ""
            if exc.row == 0 and not header and exc.unreadable:
                hint = "; if line 1 is a header, set data.header=true"
            elif name == "timestamp" and exc.unreadable:
                hint = " (timestamps are integers that order a user's ratings, e.g. Unix seconds)"
            raise DataError(f"{path}, line {lines[exc.row]}: {exc.message}{hint}") from None

    n = len(frame)
    users, items = read("user"), read("item")
    ratings = read("rating") if "rating" in columns else np.ones(n, dtype=np.float32)
    timestamps = read("timestamp") if "timestamp" in columns else np.zeros(n, dtype=np.int64)
    return RawRatings(users, items, ratings, timestamps, str(path), lines)


def check_rating_scale(raw: RawRatings, scale: Sequence[float] | None) -> None:
    """Refuse a rating outside ``scale = (lowest, highest)`` (``data.rating_scale``), naming its line.

    The scale is a property of the dataset (MovieLens: 1..5), declared in its config; ``None`` skips the
    check. A rating above the scale would silently change NCE targets (Eq. 12 divides by the max rating).
    """
    if scale is None:
        return
    low, high = float(scale[0]), float(scale[1])
    outside = (raw.ratings < low) | (raw.ratings > high)
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        raise DataError(
            f"{raw.where(row)}: rating {raw.ratings[row]:g} is outside data.rating_scale "
            f"[{low:g}, {high:g}] ({int(outside.sum())} such ratings); fix the file or set data.rating_scale"
        )
