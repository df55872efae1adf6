"""``data=csv`` (the user's own file) and single-file downloads with checksums."""

import hashlib
from pathlib import Path

import numpy as np
import pytest

from deepmf.data.custom import CSVInteractions
from deepmf.data.download import Checksum, RemoteFile, locate
from deepmf.errors import ConfigError, DataError


def write_csv(path: Path) -> Path:
    """Header, ';'-separated, string ids, an ignored column; 4 users x 6 of 10 items."""
    lines = ["who;what;stars;note;when"]
    for u in range(4):
        for k in range(6):
            item = (u * 3 + k) % 10
            lines.append(f"user-{u};item-{item};{1 + (u + k) % 4};x;{1000 + k}")
    path.write_text("\n".join(lines) + "\n")
    return path


def make(tmp_path: Path, **options) -> CSVInteractions:
    data = CSVInteractions(
        path=str(write_csv(tmp_path / "mine.csv")),
        columns=["user", "item", "rating", "note", "timestamp"],
        delimiter=";",
        header=True,
        eval_negatives=3,
        cache_dir=str(tmp_path / "cache"),
        **options,
    )
    data.setup()
    return data


def test_explicit_csv_is_split_like_any_dataset(tmp_path):
    data = make(tmp_path)
    assert (data.info.users, data.info.items, data.info.ratings) == (4, 10, 24)
    assert data.max_rating == 4.0
    # The latest line of each user (timestamp 1005, k = 5) is the test item.
    item_ids = sorted(f"item-{i}" for i in range(10))
    assert [item_ids[i] for i in data.split.test_items] == [f"item-{(u * 3 + 5) % 10}" for u in range(4)]


def test_implicit_feedback_and_rating_scale(tmp_path):
    assert np.all(make(tmp_path, feedback="implicit").split.train_ratings == 1.0)
    assert make(tmp_path, max_rating=5).max_rating == 5.0
    with pytest.raises(ConfigError, match="data.max_rating=3 is below a rating"):
        _ = make(tmp_path, max_rating=3).max_rating


def test_csv_options_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="must name 'user' and 'item'"):
        CSVInteractions(path="x", columns=["user", "rating"])
    with pytest.raises(ConfigError, match="data.feedback"):
        CSVInteractions(path="x", feedback="clicks")


def test_single_file_download_is_verified(tmp_path):
    source = tmp_path / "published.txt"
    source.write_text("0 0 5.0 1\n")
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    good = RemoteFile(source.as_uri(), "sub/file.txt", Checksum("sha256", digest))
    path = locate(None, tmp_path / "data", ["sub/file.txt.gz", "sub/file.txt"], good)
    assert path == tmp_path / "data" / "sub" / "file.txt" and path.read_text() == "0 0 5.0 1\n"
    bad = RemoteFile(source.as_uri(), "other/file.txt", Checksum("sha256", "0" * 64))
    with pytest.raises(DataError, match="download was refused and removed"):
        locate(None, tmp_path / "data", ["other/file.txt"], bad)
    assert not list((tmp_path / "data" / "other").iterdir())
