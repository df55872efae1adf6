"""Every kind of bad input gets an error naming the file, the line and what is wrong, or a logged policy."""

from __future__ import annotations

import gzip
import logging
import os
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest

from deepmf.data import download
from deepmf.data.download import Checksum, RemoteArchive, download_archive, locate, safe_extract, sha256_of
from deepmf.data.fields import AMAZON_FIELDS, CSV_FIELDS, MOVIELENS_FIELDS
from deepmf.data.interactions import drop_duplicate_pairs, drop_sparse_users
from deepmf.data.movielens import MovieLens100K
from deepmf.data.ncf import read_ncf_negatives, read_ncf_ratings
from deepmf.data.raw import parse_ratings
from deepmf.errors import DataError

GOOD = "1\t10\t5\t100\n1\t11\t3\t101\n2\t10\t4\t102\n"


def write(tmp_path: Path, text: str, name: str = "u.data") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def parse_error(path: Path, sep: str = "\t", **kwargs: object) -> str:
    with pytest.raises(DataError) as info:
        parse_ratings(path, sep, **kwargs)  # type: ignore[arg-type]
    return str(info.value)


# --- files that cannot be read -----------------------------------------------------------------------


def test_missing_file(tmp_path):
    assert parse_error(tmp_path / "nope.data") == f"{tmp_path / 'nope.data'}: file not found"
    with pytest.raises(DataError, match=r"nope\.data: file not found \(given as data.ratings_path\)"):
        locate(tmp_path / "nope.data", None, ["ml-100k/u.data"], None)
    with pytest.raises(DataError, match=r"none of \['ml-100k/u.data'\] found under .*DEEPMF_DATA_DIR"):
        locate(None, tmp_path, ["ml-100k/u.data"], None)


def test_a_folder_or_unreadable_file_is_named_as_such_and_never_downloaded_over(tmp_path, monkeypatch):
    folder = tmp_path / "data" / "ml-100k" / "u.data"
    folder.mkdir(parents=True)

    def no_download(*args: object) -> None:
        raise AssertionError("downloaded although something is there")

    monkeypatch.setattr(download, "download_archive", no_download)
    expected = f"{folder}: is a folder, not a file"
    with pytest.raises(DataError) as info:
        locate(None, tmp_path / "data", ["ml-100k/u.data"], remote(tmp_path / "x.zip", "0" * 64, "0" * 64))
    assert str(info.value) == expected
    with pytest.raises(DataError) as info:
        locate(folder, None, ["ml-100k/u.data"], None)
    assert str(info.value) == f"{expected} (given as data.ratings_path)"
    assert parse_error(folder) == expected
    if os.geteuid() != 0:  # root reads any file
        unreadable = write(tmp_path, GOOD)
        unreadable.chmod(0)
        assert parse_error(unreadable) == f"{unreadable}: exists but cannot be read (permission denied)"


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_empty_file(tmp_path, text):
    path = write(tmp_path, text)
    assert parse_error(path) == f"{path}: file is empty"


def test_header_only_file_has_no_ratings(tmp_path):
    path = write(tmp_path, "user\titem\trating\ttimestamp\n")
    assert parse_error(path, header=True) == f"{path}: no ratings (only a header or blank lines)"


def test_truncated_gzip(tmp_path):
    whole = gzip.compress(GOOD.encode() * 200)
    path = tmp_path / "ratings.dat.gz"
    path.write_bytes(whole[: len(whole) // 2])
    assert re.fullmatch(
        rf"{re.escape(str(path))}: cannot read \(.*\); the file is truncated or corrupt", parse_error(path)
    )


def test_corrupt_gzip(tmp_path):
    data = bytearray(gzip.compress(GOOD.encode() * 200))
    data[20:40] = b"\xff" * 20  # damage the deflate stream (a zlib.error, not an OSError)
    path = tmp_path / "ratings.dat.gz"
    path.write_bytes(bytes(data))
    assert "the file is truncated or corrupt" in parse_error(path)
    plain = write(tmp_path, GOOD, "not-really.gz")
    assert "Not a gzipped file" in parse_error(plain)


def test_gzip_without_suffix_is_read(tmp_path):
    path = tmp_path / "u.data"
    path.write_bytes(gzip.compress(GOOD.encode()))
    assert len(parse_ratings(path, "\t")) == 3


def test_zip_given_as_ratings_file(tmp_path):
    path = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(path, "w") as zipped:
        zipped.writestr("ml-100k/u.data", GOOD)
    assert parse_error(path) == f"{path}: is a zip archive; extract the ratings file and point to it"


def test_truncated_or_corrupt_zip(tmp_path):
    path = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("ml-100k/u.data", GOOD * 500)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match=rf"{re.escape(str(path))}: corrupt or incomplete zip archive"):
        safe_extract(path, tmp_path / "out", ["ml-100k/u.data"])
    damaged = bytearray(whole)
    damaged[60:80] = b"\x00" * 20  # inside the member's data: a CRC or zlib error on reading
    path.write_bytes(bytes(damaged))
    with pytest.raises(DataError, match="corrupt or incomplete zip archive"):
        safe_extract(path, tmp_path / "out", ["ml-100k/u.data"])
    assert not (tmp_path / "out" / "ml-100k" / "u.data").exists()


# --- malformed lines ---------------------------------------------------------------------------------


def test_wrong_delimiter(tmp_path):
    path = write(tmp_path, "1,10,5,100\n")
    assert parse_error(path) == (
        f"{path}, line 1: 1 field(s) separated by '\\t', expected 4 (user, item, rating, timestamp): "
        "'1,10,5,100'; the line contains ',': wrong delimiter?"
    )


def test_too_many_fields_names_the_line_even_after_blank_lines(tmp_path):
    path = write(tmp_path, "1\t10\t5\t100\n\n\n1\t11\t3\t101\t9\n")
    assert parse_error(path).startswith(f"{path}, line 4: 5 field(s) separated by '\\t', expected 4")


def test_too_few_fields(tmp_path):
    path = write(tmp_path, "1\t10\t5\t100\n2\t10\t4\n")
    assert parse_error(path).startswith(f"{path}, line 2: 3 field(s) separated by '\\t', expected 4")


def test_empty_field(tmp_path):
    path = write(tmp_path, "1\t10\t5\t100\n2\t\t4\t100\n")
    assert parse_error(path) == f"{path}, line 2: field 'item' is empty"


def test_multi_character_separator_in_messages(tmp_path):
    path = write(tmp_path, "1::10::5::100\n1::11::3\n", "ratings.dat")
    assert parse_error(path, "::").startswith(f"{path}, line 2: 3 field(s) separated by '::', expected 4")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("abc\t10\t5\t100", "user 'abc' is not an integer"),
        ("1\t1.5\t5\t100", "item '1.5' is not an integer"),  # would silently become item 1
        ("1\t10\tfive\t100", "rating 'five' is not a number"),
        (
            "1\t10\t5\tyesterday",
            "timestamp 'yesterday' is not an integer (timestamps are integers that order a user's ratings, "
            "e.g. Unix seconds)",
        ),
        ("1\t10\tNaN\t100", "rating 'NaN' is not a number"),
        ("1\t10\tinf\t100", "rating 'inf' must be a finite number > 0"),
        ("1\t10\t-1\t100", "rating '-1' must be a finite number > 0"),
        ("1\t10\t0\t100", "rating '0' must be a finite number > 0"),
    ],
)
def test_bad_values_name_file_line_and_value(tmp_path, line, message):
    path = write(tmp_path, GOOD + "\n" + line + "\n")  # a blank line 4: the bad one is line 5
    assert parse_error(path) == f"{path}, line 5: {message}" + (
        " (0 means 'unknown' in the rating matrix Y)" if "finite" in message else ""
    )


def test_line_numbers_count_the_header_and_the_gzip_text(tmp_path):
    text = "user\titem\trating\ttimestamp\n" + GOOD + "3\tx\t4\t100\n"
    assert parse_error(write(tmp_path, text), header=True).endswith("line 5: item 'x' is not an integer")
    path = tmp_path / "u.data.gz"
    path.write_bytes(gzip.compress(("\n" + GOOD + "3\tx\t4\t100\n").encode()))
    assert parse_error(path) == f"{path}, line 5: item 'x' is not an integer"


def test_an_unannounced_header_line_gets_a_hint(tmp_path):
    path = write(tmp_path, "user\titem\trating\ttimestamp\n" + GOOD)
    assert parse_error(path) == (
        f"{path}, line 1: user 'user' is not an integer; if line 1 is a header, set data.header=true"
    )


def test_a_field_of_spaces_is_empty(tmp_path):
    path = write(tmp_path, "u1,i1,4\nu1,  ,4\n", "ratings.csv")
    message = parse_error(path, ",", columns=("user", "item", "rating"), fields=CSV_FIELDS)
    assert message == f"{path}, line 2: field 'item' is empty"


def test_string_ids_ignore_spaces_around_them(tmp_path):
    path = write(tmp_path, "u1, i1, 5\nu1,i2,4\nu2 ,i1,3\n", "ratings.csv")
    raw = parse_ratings(path, ",", ("user", "item", "rating"), fields=CSV_FIELDS)
    assert raw.users.tolist() == ["u1", "u1", "u2"] and raw.items.tolist() == ["i1", "i2", "i1"]


def test_stray_quote_does_not_swallow_lines(tmp_path):
    path = write(tmp_path, '1\t10\t5\t100\n"2\t11\t3\t101\n3\t12\t4\t102\n')
    assert parse_error(path) == f"{path}, line 2: user '\"2' is not an integer"


def test_kept_rows_remember_their_lines(tmp_path):
    raw = parse_ratings(write(tmp_path, "\n" + GOOD), "\t")
    assert raw.lines.tolist() == [2, 3, 4]


# --- values a field's type cannot hold exactly, or its format rules out (deepmf.data.fields) ----------

NO_INT64 = "does not fit a 64-bit integer (int64)"
NOT_FLOAT32 = "is not held exactly by a 32-bit float"
NCF_RANGE = "must be in [0, 2147483647] (NCF ids are 0-based row numbers of the embedding tables)"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        # int64 ids and timestamps: never wrapped, rounded through float64 or cast with a NumPy warning.
        ("9223372036854775808\t10\t5\t100", f"user '9223372036854775808' {NO_INT64}"),
        ("1\t-9223372036854775809\t5\t100", f"item '-9223372036854775809' {NO_INT64}"),
        ("1\t10\t5\t123456789012345678901", f"timestamp '123456789012345678901' {NO_INT64}"),
        ("1\t10\t5\t1e3", "timestamp '1e3' is not an integer (timestamps are integers that order a user's "
         "ratings, e.g. Unix seconds)"),
        ("1\t1e3\t5\t100", "item '1e3' is not an integer"),
        # float32 ratings: nothing that float32 would round, overflow or flush to zero.
        ("1\t10\t1e39\t100", "rating '1e39' does not fit a 32-bit float (float32)"),
        ("1\t10\t3.0000001\t100", f"rating '3.0000001' {NOT_FLOAT32} (it would read as 3.0)"),
        ("1\t10\t16777217\t100", f"rating '16777217' {NOT_FLOAT32} (it would read as 16777216.0)"),
        ("1\t10\t1e-50\t100", f"rating '1e-50' {NOT_FLOAT32} (it would read as 0.0)"),
    ],
)  # fmt: skip
def test_values_that_do_not_fit_their_type_are_refused(tmp_path, line, message):
    path = write(tmp_path, GOOD + line + "\n")
    assert parse_error(path) == f"{path}, line 4: {message}"


def test_whole_numbers_with_a_zero_fraction_are_read_exactly(tmp_path):
    path = write(tmp_path, "9007199254740993\t10.0\t3.3\t100.00\n1\t11\t4.5\t-5\n")  # 2^53 + 1
    raw = parse_ratings(path, "\t")
    assert raw.users.tolist() == [9007199254740993, 1] and raw.items.tolist() == [10, 11]
    assert raw.timestamps.tolist() == [100, -5] and raw.ratings.tolist() == [np.float32(3.3), 4.5]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("0\t10\t5\t100", "user '0' must be >= 1 (MovieLens ids start at 1)"),
        ("1\t-4\t5\t100", "item '-4' must be >= 1 (MovieLens ids start at 1)"),
        ("1\t10\t5\t-100", "timestamp '-100' must be >= 0 (Unix seconds)"),
    ],
)
def test_movielens_rules_out_what_its_readme_does(tmp_path, line, message):
    path = write(tmp_path, GOOD + line + "\n")
    assert parse_error(path, fields=MOVIELENS_FIELDS) == f"{path}, line 4: {message}"
    assert len(parse_ratings(path, "\t")) == 4  # the generic integer rules allow it


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("A1,B0001,5.0,1388534400.5", "timestamp '1388534400.5' is not an integer (timestamps are integers "
         "that order a user's ratings, e.g. Unix seconds)"),
        ("A1,B0001,5.0,-1", "timestamp '-1' must be >= 0 (Unix seconds)"),
        ("A1,B0001,5e40,1388534400", "rating '5e40' does not fit a 32-bit float (float32)"),
    ],
)  # fmt: skip
def test_amazon_csv_rules(tmp_path, line, message):
    path = write(tmp_path, "A1,B0002,4.0,1388534400\n" + line + "\n", "ratings.csv")
    assert parse_error(path, ",", fields=AMAZON_FIELDS) == f"{path}, line 2: {message}"


def test_csv_string_ids_are_kept_as_written_and_timestamps_may_be_negative(tmp_path):
    path = write(tmp_path, "007,1e3,5,-20\n7,1000,4,99999999999\n", "ratings.csv")
    raw = parse_ratings(path, ",", fields=CSV_FIELDS)
    assert raw.users.tolist() == ["007", "7"] and raw.items.tolist() == ["1e3", "1000"]
    assert raw.timestamps.tolist() == [-20, 99999999999]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("-1\t3\t5", f"user '-1' {NCF_RANGE}"),
        ("1\t2147483648\t5", f"item '2147483648' {NCF_RANGE}"),
    ],
)  # fmt: skip
def test_ncf_ids_index_the_embedding_tables(tmp_path, line, message):
    path = write(tmp_path, "0\t1\t5\n" + line + "\n", "toy.train.rating")
    with pytest.raises(DataError) as info:
        read_ncf_ratings(path)
    assert str(info.value) == f"{path}, line 2: {message}"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("(1,2)\t3\t-4", "a negative item id: id '-4' must be in [0, 2147483647]"),
        ("(1,2)\t3\t99999999999999999999", f"a negative item id: id '99999999999999999999' {NO_INT64}"),
        ("(1,2)\t3\t4.5", "a negative item id: id '4.5' is not an integer"),
        ("(1,x)\t3", "the '(user,item)' pair: id 'x' is not an integer"),
    ],
)  # fmt: skip
def test_ncf_negative_ids_are_read_by_the_same_rule(tmp_path, line, message):
    path = write(tmp_path, "(0,1)\t2\t3\n\n" + line + "\n", "toy.test.negative")
    with pytest.raises(DataError) as info:
        read_ncf_negatives(path)
    assert str(info.value).startswith(f"{path}, line 3: {message}")


def test_a_bad_value_is_refused_before_anything_is_cached(tmp_path):
    path = dense_file(tmp_path, "1\t7\t3\t18446744073709551621\n")  # 2^64 + 5: would wrap to 5
    with pytest.raises(DataError, match="does not fit a 64-bit integer"):
        datamodule(path, tmp_path).setup()
    assert not list((tmp_path / "cache").rglob("*.npz"))


def test_a_folder_under_the_split_cache_name_is_named_as_such(tmp_path):
    path = dense_file(tmp_path)
    datamodule(path, tmp_path).setup()  # saves the split: now we know the cache's name
    (cache,) = (tmp_path / "cache").rglob("split-*.npz")
    cache.unlink()
    cache.mkdir()
    with pytest.raises(DataError, match=re.escape(f"{cache}: is a folder, not a file (the split cache")):
        datamodule(path, tmp_path).setup()
    assert cache.is_dir() and not any(cache.iterdir())  # left as it was


# --- ratings outside the dataset's scale (data.rating_scale) -----------------------------------------


def datamodule(path: Path, tmp_path: Path, **kwargs: object) -> MovieLens100K:
    options = dict(ratings_path=str(path), cache_dir=str(tmp_path / "cache"), eval_negatives=2)
    return MovieLens100K(**(options | kwargs))  # type: ignore[arg-type]


def dense_file(tmp_path: Path, extra: str = "", n_users: int = 4, n_items: int = 12) -> Path:
    rows = [f"{u}\t{i}\t{1 + (u + i) % 5}\t{u * 100 + i}" for u in range(1, n_users + 1) for i in range(1, 6)]
    rows += [f"9\t{i}\t3\t{i}" for i in range(6, n_items + 1)]  # every item exists
    return write(tmp_path, "\n".join(rows) + "\n" + extra)


@pytest.mark.parametrize("rating", ["6", "0.5"])
def test_rating_outside_scale(tmp_path, rating):
    path = dense_file(tmp_path, f"1\t7\t{rating}\t5\n")
    with pytest.raises(DataError) as info:
        datamodule(path, tmp_path, rating_scale=[1, 5]).setup()
    line = len(path.read_text().splitlines())
    assert str(info.value) == (
        f"{path}, line {line}: rating {float(rating):g} is outside data.rating_scale [1, 5] "
        "(1 such ratings); fix the file or set data.rating_scale"
    )
    datamodule(path, tmp_path, rating_scale=None).setup()  # no declared scale: only > 0 is required


# --- policies: duplicates, sparse users, too few negatives --------------------------------------------


def test_duplicate_pairs_keep_the_latest_and_log_it(tmp_path, caplog):
    path = write(tmp_path, "1\t10\t2\t300\n1\t11\t3\t101\n\n1\t10\t4\t200\n1\t10\t5\t100\n")
    with caplog.at_level(logging.WARNING, logger="deepmf"):
        kept = drop_duplicate_pairs(parse_ratings(path, "\t"))
    assert sorted(zip(kept.items.tolist(), kept.ratings.tolist())) == [(10, 2.0), (11, 3.0)]
    assert (
        f"{path}: 2 duplicate (user, item) ratings (e.g. user 1, item 10 on lines 1, 4, 5: kept line 1); "
        "kept the latest of each pair" in caplog.text
    )


def test_sparse_users_are_dropped_with_a_count(tmp_path, caplog):
    path = write(tmp_path, GOOD + "3\t12\t4\t1\n1\t12\t4\t2\n")
    with caplog.at_level(logging.WARNING, logger="deepmf"):
        kept = drop_sparse_users(parse_ratings(path, "\t"), 3)
    assert set(kept.users.tolist()) == {1}
    assert f"{path}: dropped 2 users with fewer than 3 ratings (2 ratings)" in caplog.text
    with pytest.raises(DataError, match=rf"{re.escape(str(path))}: no user has 4 or more ratings"):
        drop_sparse_users(parse_ratings(path, "\t"), 4)


def test_policy_counts_reach_the_dataset_record_and_survive_the_cache(tmp_path):
    duplicates = "1\t1\t2\t1\n1\t2\t4\t2\n"  # older copies of two of user 1's ratings
    sparse = "7\t3\t5\t9\n7\t4\t5\t10\n"  # user 7: 2 ratings, too few to split with validation
    path = dense_file(tmp_path, duplicates + sparse)
    expected = {
        "duplicates_dropped": 2,
        "filtered_out": 0,
        "sparse_users_dropped": 1,
        "sparse_user_ratings_dropped": 2,
    }
    for _ in range(2):  # built, then read back from the cache
        module = datamodule(path, tmp_path)
        module.setup()
        assert module.info.as_dict()["policy"] == expected
    assert len(list((tmp_path / "cache").rglob("*.npz"))) == 1


def test_user_with_too_few_items_left_for_evaluation_negatives(tmp_path):
    path = dense_file(tmp_path, "".join(f"2\t{i}\t4\t{900 + i}\n" for i in range(6, 11)))  # 10 of 12 items
    with pytest.raises(DataError) as info:
        datamodule(path, tmp_path, eval_negatives=3).setup()
    assert str(info.value) == (
        f"{path}: user 2 interacted with 10 of 12 items, leaving fewer than data.eval_negatives=3 items "
        "to sample negatives from; lower data.eval_negatives or filter such users"
    )
    datamodule(path, tmp_path, eval_negatives=2).setup()  # exactly enough is fine


# --- downloads -----------------------------------------------------------------------------------------


def make_zip(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zipped:
        for name, text in members.items():
            zipped.writestr(name, text)
    return path


def remote(archive: Path, digest: str, member_digest: str) -> RemoteArchive:
    return RemoteArchive(
        url=archive.as_uri(),  # file:// : urlopen reads it, the network is never used
        archive_checksum=Checksum("sha256", digest),
        members={"ml-100k/u.data": Checksum("sha256", member_digest)},
    )


def member_sha256(tmp_path: Path, text: str) -> str:
    return sha256_of(write(tmp_path, text, "member"))


def test_download_with_wrong_checksum_is_refused_and_removed(tmp_path):
    archive = make_zip(tmp_path / "ml-100k.zip", {"ml-100k/u.data": GOOD})
    data_dir = tmp_path / "data"
    with pytest.raises(DataError) as info:
        download_archive(remote(archive, "0" * 64, member_sha256(tmp_path, GOOD)), data_dir)
    assert str(info.value) == (
        f"{archive.as_uri()}: sha256 is {sha256_of(archive)}, expected {'0' * 64}; "
        "the download was refused and removed"
    )
    assert list(data_dir.rglob("*")) == []  # nothing left, not even the temporary folder
    with pytest.raises(DataError, match="and the download failed: .*the download was refused and removed"):
        locate(None, data_dir, ["ml-100k/u.data"], remote(archive, "0" * 64, "0" * 64))


def test_downloaded_member_with_wrong_checksum_is_refused_and_removed(tmp_path):
    archive = make_zip(tmp_path / "ml-100k.zip", {"ml-100k/u.data": GOOD})
    data_dir = tmp_path / "data"
    with pytest.raises(DataError, match=r"member ml-100k/u.data has sha256 \w+, expected 1{64}; refused"):
        download_archive(remote(archive, sha256_of(archive), "1" * 64), data_dir)
    assert list(data_dir.rglob("*")) == []
    download_archive(remote(archive, sha256_of(archive), member_sha256(tmp_path, GOOD)), data_dir)
    assert (data_dir / "ml-100k" / "u.data").read_text() == GOOD


@pytest.mark.parametrize("member", ["../evil.txt", "ml-100k/../../evil.txt", "/tmp/deepmf-evil.txt"])
def test_zip_member_escaping_the_target_is_refused(tmp_path, member):
    archive = make_zip(tmp_path / "evil.zip", {"ml-100k/u.data": GOOD, member: "pwned"})
    target = tmp_path / "data"
    target.mkdir()
    with pytest.raises(DataError) as info:
        safe_extract(archive, target, ["ml-100k/u.data", member])
    assert str(info.value) == (
        f"{archive}: member {zipfile.ZipFile(archive).namelist()[1]!r} would be written outside "
        f"{target.resolve()}; refused"
    )
    assert not (tmp_path / "evil.txt").exists()
    assert not (target / "ml-100k" / "u.data").exists()  # refused before anything is written


def test_lines_of_a_parsed_file_match_numpy(tmp_path):
    # The fast path (integer columns) and the line bookkeeping agree with a plain reading of the file.
    path = dense_file(tmp_path)
    raw = parse_ratings(path, "\t")
    expected = np.loadtxt(path, dtype=np.int64)
    assert np.array_equal(raw.users, expected[:, 0]) and np.array_equal(raw.items, expected[:, 1])
    assert raw.lines.tolist() == list(range(1, len(expected) + 1))
