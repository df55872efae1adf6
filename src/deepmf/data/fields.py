"""What each field of a rating file must be, per format: the type it is read into, what the format rules out.

Every value is read exactly or refused: an id or timestamp is an integer written in digits that fits int64
(and the format's range), a rating a finite number > 0 that float32 holds as written. Nothing is rounded,
wrapped or turned into another value, and no NumPy warning is ever the only sign of bad data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

INT64_MIN, INT64_MAX = int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)
INT32_MAX = int(np.iinfo(np.int32).max)
FLOAT32_MAX = float(np.finfo(np.float32).max)
#: A whole number in digits, with an optional sign and an optional zero fraction (``7``, ``-3``, ``7.0``).
WHOLE_NUMBER = r"[+-]?\d+(?:\.0*)?"


class FieldError(ValueError):
    """The value in row ``row`` of a column is not what its field must be; ``message`` says why.
    ``unreadable``: the text is no value of the field's kind at all (not a number), rather than a value
    the field rules out (so a header line or a date may be the cause)."""

    def __init__(self, row: int, message: str, unreadable: bool = False) -> None:
        super().__init__(message)
        self.row, self.message, self.unreadable = row, message, unreadable


@dataclass(frozen=True)
class Integer:
    """An integer read into int64 exactly, within ``[minimum, maximum]`` (``rule`` says why, in errors)."""

    minimum: int = INT64_MIN
    maximum: int = INT64_MAX
    rule: str = ""

    def read(self, name: str, text: pd.Series) -> np.ndarray:
        values = pd.to_numeric(text, errors="coerce")  # int64 (exact) when every value is an int64 literal
        if values.dtype != np.int64:
            values = self._exact(name, text)
        ints = values.to_numpy(dtype=np.int64)
        outside = (ints < self.minimum) | (ints > self.maximum)
        if outside.any():
            low, high = self.minimum, self.maximum
            bounds = f">= {low}" if high == INT64_MAX else f"in [{low}, {high}]"
            why = f" ({self.rule})" if self.rule else ""
            raise _error(outside, text, f"{name} {{!r}} must be {bounds}{why}")
        return ints

    @staticmethod
    def _exact(name: str, text: pd.Series) -> pd.Series:
        """The values of a column that is not all int64 literals, or the error for the first that is not
        a whole number (``7.0`` is 7, ``1e3`` is refused) or does not fit int64."""
        whole = text.str.fullmatch(WHOLE_NUMBER).to_numpy(dtype=bool)
        if not whole.all():
            raise _error(~whole, text, f"{name} {{!r}} is not an integer", unreadable=True)
        text = text.str.replace(r"\.0*$", "", regex=True)
        values = pd.to_numeric(text)  # int64 exactly when every value fits; uint64 or float64 otherwise
        if values.dtype == np.int64:
            return values
        body = text.str.lstrip("+-").str.lstrip("0")
        limit = pd.Series(np.where(text.str.startswith("-"), str(INT64_MIN)[1:], str(INT64_MAX)), text.index)
        too_big = (body.str.len() > limit.str.len()) | ((body.str.len() == limit.str.len()) & (body > limit))
        raise _error(
            too_big.to_numpy(dtype=bool), text, f"{name} {{!r}} does not fit a 64-bit integer (int64)"
        )


@dataclass(frozen=True)
class Text:
    """A string id, spaces around it stripped (with ``u1, i1`` lines, ``' i1'`` and ``'i1'`` are one item)."""

    def read(self, name: str, text: pd.Series) -> np.ndarray:
        return text.to_numpy()


@dataclass(frozen=True)
class Rating:
    """A finite number > 0 (0 means "unknown" in Y) that float32 holds as written: ``3.5`` and ``3.3`` are
    read back as written, ``3.0000001`` (float32: 3.0) or ``1e39`` (float32: inf) are refused."""

    def read(self, name: str, text: pd.Series) -> np.ndarray:
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
        if np.isnan(values).any():
            raise _error(np.isnan(values), text, f"{name} {{!r}} is not a number", unreadable=True)
        positive = np.isfinite(values) & (values > 0)
        if not positive.all():
            raise _error(
                ~positive,
                text,
                f"{name} {{!r}} must be a finite number > 0 (0 means 'unknown' in the rating matrix Y)",
            )
        if (values > FLOAT32_MAX).any():
            raise _error(values > FLOAT32_MAX, text, f"{name} {{!r}} does not fit a 32-bit float (float32)")
        ratings = values.astype(np.float32)
        # Only a value whose float32 differs from its float64 can be changed by float32 (e.g. 3.3, exactly
        # 3.2999999523 either way, is kept); whether it reads back as written is decided on its text.
        inexact = np.flatnonzero(ratings.astype(np.float64) != values)
        for value in pd.unique(text.iloc[inexact]):
            if Decimal(value) != Decimal(str(np.float32(float(value)))):
                raise _error(
                    (text == value).to_numpy(),
                    text,
                    f"{name} {{!r}} is not held exactly by a 32-bit float "
                    f"(it would read as {np.float32(float(value))})",
                )
        return ratings


Field = Integer | Text | Rating
#: A format's field rules by column name; columns without one are read and ignored.
Fields = Mapping[str, Field]


def _error(bad: np.ndarray, text: pd.Series, message: str, unreadable: bool = False) -> FieldError:
    row = int(np.flatnonzero(bad)[0])
    return FieldError(row, message.format(text.iloc[row]), unreadable)


UNIX_SECONDS = Integer(0, rule="Unix seconds")
#: Integer ids and timestamps, ratings > 0: the rules every numeric-id format shares.
INTEGER_IDS: Fields = {"user": Integer(), "item": Integer(), "rating": Rating(), "timestamp": Integer()}
#: MovieLens 100K ``u.data`` and 1M ``ratings.dat``: ids numbered from 1, Unix-second timestamps.
MOVIELENS_FIELDS: Fields = {
    "user": Integer(1, rule="MovieLens ids start at 1"),
    "item": Integer(1, rule="MovieLens ids start at 1"),
    "rating": Rating(),
    "timestamp": UNIX_SECONDS,
}
#: The DMF authors' Amusic file: ``user item rating timestamp``, integer ids from 0.
AMUSIC_FIELDS: Fields = {
    "user": Integer(0, rule="Amusic ids start at 0"),
    "item": Integer(0, rule="Amusic ids start at 0"),
    "rating": Rating(),
    "timestamp": UNIX_SECONDS,
}
#: The 2014 Amazon "ratings only" CSV: reviewer id and ASIN are strings.
AMAZON_FIELDS: Fields = {"user": Text(), "item": Text(), "rating": Rating(), "timestamp": UNIX_SECONDS}
#: NCF ``.rating`` files and ``.test.negative`` ids: 0-based ids that size the embedding tables as they
#: are, so an id beyond int32 would ask for billions of rows.
NCF_ID = Integer(0, INT32_MAX, rule="NCF ids are 0-based row numbers of the embedding tables")
NCF_FIELDS: Fields = {"user": NCF_ID, "item": NCF_ID, "rating": Rating(), "timestamp": UNIX_SECONDS}
#: ``data=csv``: any string ids; a timestamp only orders a user's ratings, so any int64 will do.
CSV_FIELDS: Fields = {"user": Text(), "item": Text(), "rating": Rating(), "timestamp": Integer()}
