"""Amazon datasets: the DMF authors' own Amusic file, and the 2014 "ratings only" category files."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from deepmf.data.datamodule import InteractionDataModule
from deepmf.data.download import Checksum, RemoteFile, locate
from deepmf.data.fields import AMAZON_FIELDS, AMUSIC_FIELDS
from deepmf.data.filtering import check_filter_options, min_count_filter
from deepmf.data.raw import RawRatings, parse_ratings, read_bytes
from deepmf.data.split import LeaveOneOutSplit
from deepmf.errors import ConfigError

AMUSIC_NAME = "amusic-dmf/Amazon_ratings_Digital_Music_pruned.txt"
# The authors' file as kept by the independent reproduction study (Ferrari Dacrema et al., TOIS 2021).
AMUSIC = RemoteFile(
    url="https://raw.githubusercontent.com/MaurizioFD/RecSys2019_DeepLearning_Evaluation/master/"
    "Conferences/IJCAI/DMF_original/data_www/Amazon_ratings_Digital_Music_pruned.txt",
    name=AMUSIC_NAME,
    checksum=Checksum("sha256", "db0a9f971d8106f179e57ad0087e6a524be38cc1bceed01ce31f9ca452ef6c8e"),
)
AMUSIC_COUNTS = (844, 18_813, 46_468)  # the paper's Table 1

#: 2014 release (McAuley et al.), "ratings only" files: https://jmcauley.ucsd.edu/data/amazon/links.html
AMAZON_URL = "https://snap.stanford.edu/data/amazon/productGraph/categoryFiles/ratings_{category}.csv"
AMAZON_CATEGORIES = ("Digital_Music", "Movies_and_TV")


def content_sha256(path: Path) -> str:
    """sha256 of the file's content, decompressed if it is a .gz (so a re-compressed copy still matches)."""
    return hashlib.sha256(read_bytes(path)).hexdigest()


class AmazonMusicDMF(InteractionDataModule):
    """Amusic: the DMF authors' Amazon Digital Music file, space-separated ``user item rating timestamp``.

    Its ids are already contiguous, every user has >= 20 ratings and it is used as is (no item filter:
    most of its items have fewer than 5 ratings, so the paper's stated item filter was not applied).
    """

    name = "amusic"

    def raw_file(self) -> Path:
        candidates = [f"{AMUSIC_NAME}.gz", AMUSIC_NAME]
        return locate(self.ratings_path, self.data_dir, candidates, AMUSIC)

    def parse(self, path: Path) -> RawRatings:
        return parse_ratings(path, sep=" ", fields=AMUSIC_FIELDS)

    def describe(self, path: Path, sha256: str, split: LeaveOneOutSplit) -> tuple[str, ...]:
        if content_sha256(path) == AMUSIC.checksum.hexdigest:  # type: ignore[union-attr]
            return ()
        counts = (
            split.n_users,
            split.n_items,
            len(split.train_items) + len(split.test_items) + len(split.val_items),
        )
        return (
            f"{path} is not the DMF authors' Amusic file (its content sha256 differs); it has "
            f"{counts[0]:,} users, {counts[1]:,} items and {counts[2]:,} ratings (the paper: 844 / 18,813 "
            "/ 46,468); do not report its results as Amusic",
        )


class AmazonRatings(InteractionDataModule):
    """A 2014 Amazon "ratings only" file: CSV ``user,item,rating,timestamp``, no header, string ids.

    Filtered as the paper states (users >= 20 and items >= 5 interactions); see
    :func:`deepmf.data.filtering.min_count_filter` for ``filter=once`` (default) and ``until_stable``.
    No checksum of these files has been published, so a download is accepted unverified (its sha256 is
    logged and recorded in metrics.json).

    Args:
        category: ``Digital_Music`` or ``Movies_and_TV`` (the paper's Amovie).
        min_user_interactions, min_item_interactions: the filter's bounds (paper: 20 and 5).
        filter: ``once`` or ``until_stable``.
        **common: the options of :class:`InteractionDataModule`.
    """

    def __init__(
        self,
        category: str = "Digital_Music",
        min_user_interactions: int = 20,
        min_item_interactions: int = 5,
        filter: str = "once",
        **common: Any,
    ) -> None:
        super().__init__(**common)
        if category not in AMAZON_CATEGORIES:
            raise ConfigError(f"data.category must be one of {AMAZON_CATEGORIES}, got {category!r}")
        check_filter_options(min_user_interactions, min_item_interactions, filter)
        self.category = category
        self.min_user = min_user_interactions
        self.min_item = min_item_interactions
        self.filter_mode = filter
        self.name = f"amazon-{category}"

    def raw_file(self) -> Path:
        file = f"amazon/ratings_{self.category}.csv"
        source = RemoteFile(AMAZON_URL.format(category=self.category), file, checksum=None)
        return locate(self.ratings_path, self.data_dir, [file, f"{file}.gz"], source)

    def parse(self, path: Path) -> RawRatings:
        return parse_ratings(path, sep=",", fields=AMAZON_FIELDS)

    def filter(self, raw: RawRatings) -> RawRatings:
        return min_count_filter(raw, self.min_user, self.min_item, self.filter_mode)

    def split_settings(self) -> list[Any]:
        return [*super().split_settings(), self.min_user, self.min_item, self.filter_mode]
