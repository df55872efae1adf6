"""MovieLens 100K and 1M (GroupLens)."""

from __future__ import annotations

from pathlib import Path

from deepmf.data.datamodule import InteractionDataModule
from deepmf.data.download import Checksum, RemoteArchive, locate
from deepmf.data.fields import MOVIELENS_FIELDS
from deepmf.data.raw import RawRatings, parse_ratings
from deepmf.data.split import LeaveOneOutSplit

# GroupLens publishes MD5s of its zips; the extracted ratings files are pinned more strongly below.
ML100K = RemoteArchive(
    url="https://files.grouplens.org/datasets/movielens/ml-100k.zip",
    archive_checksum=Checksum("md5", "0e33842e24a9c977be4e0107933c0723"),
    members={
        "ml-100k/u.data": Checksum(
            "sha256", "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490"
        )
    },
)
ML1M = RemoteArchive(
    url="https://files.grouplens.org/datasets/movielens/ml-1m.zip",
    archive_checksum=Checksum("md5", "c4d9eecfca2ab87c1945afe126590906"),
    # git's blob id of the official ratings.dat, as held by many public repositories.
    members={"ml-1m/ratings.dat": Checksum("git-blob", "77a7c4b150f588c23bb9e1f068aa996c0b413695")},
)
ML1M_COUNTS = (6040, 3706, 1_000_209)


class MovieLens100K(InteractionDataModule):
    """MovieLens 100K: ``u.data``, tab-separated ``user item rating timestamp``."""

    name = "ml100k"

    def raw_file(self) -> Path:
        return locate(self.ratings_path, self.data_dir, ["ml-100k/u.data"], ML100K)

    def parse(self, path: Path) -> RawRatings:
        return parse_ratings(path, sep="\t", fields=MOVIELENS_FIELDS)


class MovieLens1M(InteractionDataModule):
    """MovieLens 1M: ``ratings.dat`` (plain or .gz), ``UserID::MovieID::Rating::Timestamp``."""

    name = "ml1m"

    def raw_file(self) -> Path:
        return locate(self.ratings_path, self.data_dir, ["ml-1m/ratings.dat", "ml-1m/ratings.dat.gz"], ML1M)

    def parse(self, path: Path) -> RawRatings:
        return parse_ratings(path, sep="::", fields=MOVIELENS_FIELDS)

    def describe(self, path: Path, sha256: str, split: LeaveOneOutSplit) -> tuple[str, ...]:
        counts = (
            split.n_users,
            split.n_items,
            len(split.train_items) + len(split.test_items) + len(split.val_items),
        )
        if counts == ML1M_COUNTS:
            return ()
        return (
            f"{path} is not the official MovieLens 1M ratings.dat: it has {counts[0]:,} users, "
            f"{counts[1]:,} items and {counts[2]:,} ratings (official: 6,040 / 3,706 / 1,000,209); "
            "do not report its results as ML-1M",
        )
