"""Processes that start together on a cold cache build the split once and download the data once.

Each worker process counts its builds (or downloads) in a shared file; the build is slowed down so that
every process asks while the first is still at work, which is when, without a lock, each would build.
"""

from __future__ import annotations

import multiprocessing
import time
import zipfile
from pathlib import Path

import numpy as np

from deepmf.data import download
from deepmf.data.download import Checksum, RemoteArchive, RemoteFile, sha256_of
from deepmf.data.movielens import MovieLens100K
from deepmf.data.split import LeaveOneOutSplit
from tests.synthetic import write_ml100k

PROCESSES = 4
# fork: the workers inherit the slowed-down, counting functions below without importing anything.
CONTEXT = multiprocessing.get_context("fork")


def counted(function, tally: Path):
    """``function``, which first appends a line to ``tally`` and then takes half a second more."""

    def slow(*args, **kwargs):
        with open(tally, "a") as out:
            out.write("x\n")
        time.sleep(0.5)
        return function(*args, **kwargs)

    return slow


def run_together(target, *args) -> None:
    workers = [CONTEXT.Process(target=target, args=(*args, k)) for k in range(PROCESSES)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0] * PROCESSES


def setup_split(data_dir: Path, cache_dir: Path, out: Path, k: int) -> None:
    datamodule = MovieLens100K(data_dir=str(data_dir), cache_dir=str(cache_dir), eval_negatives=20)
    datamodule.setup()
    split = datamodule.split
    np.savez(out / f"split-{k}.npz", test=split.test_items, negatives=split.eval_negatives)


def test_jobs_starting_together_build_the_split_once_and_share_it(tmp_path, monkeypatch):
    write_ml100k(tmp_path / "data", n_users=30, n_items=150, seed=0)
    tally = tmp_path / "builds"
    monkeypatch.setattr(MovieLens100K, "_build_split", counted(MovieLens100K._build_split, tally))
    run_together(setup_split, tmp_path / "data", tmp_path / "cache", tmp_path)
    assert tally.read_text().count("x") == 1
    (cache,) = (tmp_path / "cache").glob("*/split-*.npz")
    saved = LeaveOneOutSplit.load(cache)
    for k in range(PROCESSES):
        got = np.load(tmp_path / f"split-{k}.npz")
        assert np.array_equal(got["test"], saved.test_items)
        assert np.array_equal(got["negatives"], saved.eval_negatives)


def locate_data(source: RemoteArchive, data_dir: Path, out: Path, k: int) -> None:
    path = download.locate(None, data_dir, ["ml-100k/u.data"], source)
    (out / f"located-{k}").write_text(f"{path}\n{sha256_of(path)}")


def test_jobs_starting_together_download_once(tmp_path, monkeypatch):
    member = write_ml100k(tmp_path / "source", n_users=30, n_items=150, seed=0)
    archive = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(member, "ml-100k/u.data")
    source = RemoteArchive(  # file:// : urlopen reads it, the network is never used
        archive.as_uri(),
        Checksum("sha256", sha256_of(archive)),
        {"ml-100k/u.data": Checksum("sha256", sha256_of(member))},
    )
    tally = tmp_path / "downloads"
    monkeypatch.setattr(download, "download_archive", counted(download.download_archive, tally))
    run_together(locate_data, source, tmp_path / "data", tmp_path)
    assert tally.read_text().count("x") == 1
    located = {(tmp_path / f"located-{k}").read_text() for k in range(PROCESSES)}
    assert located == {f"{tmp_path / 'data' / 'ml-100k' / 'u.data'}\n{sha256_of(member)}"}


def locate_file(source: RemoteFile, data_dir: Path, out: Path, k: int) -> None:
    path = download.locate(None, data_dir, [source.name], source)
    (out / f"located-{k}").write_text(f"{path}\n{sha256_of(path)}")


def test_jobs_starting_together_download_a_single_file_once(tmp_path, monkeypatch):
    published = write_ml100k(tmp_path / "source", n_users=30, n_items=150, seed=0)
    source = RemoteFile(published.as_uri(), "amazon/ratings.csv", Checksum("sha256", sha256_of(published)))
    tally = tmp_path / "downloads"
    monkeypatch.setattr(download, "download_file", counted(download.download_file, tally))
    run_together(locate_file, source, tmp_path / "data", tmp_path)
    assert tally.read_text().count("x") == 1
    located = {(tmp_path / f"located-{k}").read_text() for k in range(PROCESSES)}
    assert located == {f"{tmp_path / 'data' / 'amazon' / 'ratings.csv'}\n{sha256_of(published)}"}
