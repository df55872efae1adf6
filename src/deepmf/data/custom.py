"""``data=csv``: the user's own interactions in any delimited text file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deepmf.data.datamodule import InteractionDataModule
from deepmf.data.fields import CSV_FIELDS
from deepmf.data.filtering import check_filter_options, min_count_filter
from deepmf.data.paths import file_present
from deepmf.data.raw import RawRatings, parse_ratings
from deepmf.errors import ConfigError

FEEDBACK = ("explicit", "implicit")
DELIMITER_ALIASES = {"tab": "\t", "\\t": "\t", "space": " "}


class CSVInteractions(InteractionDataModule):
    """Interactions from a delimited file, split and evaluated like every other dataset.

    Args:
        path: the file (plain or .gz).
        columns: the file's fields in order; ``user`` and ``item`` are required, ``rating`` and
            ``timestamp`` optional (without one, every rating ties and the test item is drawn by the
            split's seeded item order, as for ties at the latest timestamp); other (distinct) names are
            ignored.
        delimiter: the field separator (``tab`` / ``\\t`` and ``space`` are accepted as words).
        header: whether the first line is a header (skipped; columns are matched by position).
        feedback: ``explicit`` (the rating column is the rating, Eq. 2) or ``implicit`` (every
            interaction counts 1, whatever the rating column holds).
        max_rating: the top of the rating scale, max(R) in the nce loss (Eq. 12); None: the largest
            rating in the file.
        min_user_interactions, min_item_interactions, filter: an optional minimum-count filter, as for
            Amazon (0 disables it).
        **common: the options of :class:`InteractionDataModule`.
    """

    name = "csv"

    def __init__(
        self,
        path: str,
        columns: list[str] | tuple[str, ...] = ("user", "item", "rating", "timestamp"),
        delimiter: str = ",",
        header: bool = False,
        feedback: str = "explicit",
        max_rating: float | None = None,
        min_user_interactions: int = 0,
        min_item_interactions: int = 0,
        filter: str = "once",
        **common: Any,
    ) -> None:
        super().__init__(**common)
        columns = tuple(columns)
        if "user" not in columns or "item" not in columns or len(set(columns)) != len(columns):
            raise ConfigError(f"data.columns must name 'user' and 'item' once each, got {list(columns)}")
        if feedback not in FEEDBACK:
            raise ConfigError(f"data.feedback must be one of {FEEDBACK}, got {feedback!r}")
        if max_rating is not None and not max_rating > 0:
            raise ConfigError(f"data.max_rating must be > 0 or null, got {max_rating!r}")
        check_filter_options(min_user_interactions, min_item_interactions, filter)
        if feedback == "implicit":
            # Read, but ignored: implicit feedback is 1 per interaction.
            columns = tuple("_rating" if name == "rating" else name for name in columns)
        self.path = path
        self.columns = columns
        self.delimiter = DELIMITER_ALIASES.get(delimiter, delimiter)
        self.header = header
        self.feedback = feedback
        self.scale = max_rating
        self.min_user, self.min_item, self.filter_mode = (
            min_user_interactions,
            min_item_interactions,
            filter,
        )

    def raw_file(self) -> Path:
        path = Path(self.path).expanduser()
        if not file_present(path, " (given as data.path)"):
            raise ConfigError(f"data.path: {path}: file not found")
        return path

    def parse(self, path: Path) -> RawRatings:
        return parse_ratings(path, self.delimiter, self.columns, self.header, fields=CSV_FIELDS)

    def filter(self, raw: RawRatings) -> RawRatings:
        if self.min_user == 0 and self.min_item == 0:
            return raw
        return min_count_filter(raw, self.min_user, self.min_item, self.filter_mode)

    def split_settings(self) -> list[Any]:
        parsing = [list(self.columns), self.delimiter, self.header]
        return [*super().split_settings(), *parsing, self.min_user, self.min_item, self.filter_mode]

    @property
    def max_rating(self) -> float:
        observed = super().max_rating
        if self.scale is None:
            return observed
        if observed > self.scale:
            raise ConfigError(f"data.max_rating={self.scale} is below a rating in {self.path} ({observed})")
        return float(self.scale)
