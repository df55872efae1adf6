"""Finding raw files under the data directory, or downloading them with pooch and verifying them."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pooch
import requests

from deepmf.data.paths import file_present
from deepmf.errors import DataError
from deepmf.io import locked, write_atomic

log = logging.getLogger(__name__)

DATA_DIR_ENV = "DEEPMF_DATA_DIR"
#: Further attempts after a failed download or one whose digest differs (pooch waits 1 s, then 2 s).
RETRIES = 2


@dataclass(frozen=True)
class Checksum:
    """A pinned digest: ``algorithm`` is a hashlib name (checked by pooch as it downloads), or ``git-blob``
    (git's sha1 of a blob, which pooch cannot compute: used for archive members, checked here)."""

    algorithm: str
    hexdigest: str

    def of(self, path: Path) -> str:
        if self.algorithm != "git-blob":
            return pooch.file_hash(str(path), alg=self.algorithm)
        digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    def matches(self, path: Path) -> bool:
        return self.of(path) == self.hexdigest


@dataclass(frozen=True)
class RemoteArchive:
    """A zip archive published at ``url`` and the checksums of the members we read from it."""

    url: str
    archive_checksum: Checksum
    members: dict[str, Checksum] = field(default_factory=dict)


@dataclass(frozen=True)
class RemoteFile:
    """A single file published at ``url``, saved as ``name`` under the data dir.

    ``checksum`` is None only where no digest of the file has been published: the download is then
    accepted unverified and its sha256 is logged, never invented.
    """

    url: str
    name: str
    checksum: Checksum | None


def sha256_of(path: Path) -> str:
    return Checksum("sha256", "").of(path)


def default_data_dir() -> Path:
    return Path(os.environ.get(DATA_DIR_ENV, "data")).expanduser()


def fetch(url: str, checksum: Checksum | None, folder: Path, name: str) -> Path:
    """Download ``url`` to ``folder / name`` with pooch: retried, streamed to a temporary file that is
    renamed into place only once its digest matches ``checksum`` (else deleted, and the error says so)."""
    known = f"{checksum.algorithm}:{checksum.hexdigest}" if checksum else None
    remote = pooch.create(folder, "", registry={name: known}, urls={name: url}, retry_if_failed=RETRIES)
    log.info("downloading %s", url)
    try:
        return Path(remote.fetch(name, downloader=_read_file_url if url.startswith("file:") else None))
    except ValueError as exc:  # pooch: the digest differs; its message gives the download's
        got = re.search(r"but got (\w+)", str(exc))
        if checksum is None or got is None:
            raise DataError(f"could not download {url} ({exc})") from exc
        raise DataError(
            f"{url}: {checksum.algorithm} is {got[1]}, expected {checksum.hexdigest}; "
            "the download was refused and removed"
        ) from exc
    except (OSError, requests.RequestException) as exc:
        raise DataError(f"could not download {url} ({exc})") from exc


def _read_file_url(url: str, output_file: str, _pooch: object) -> None:
    """A pooch downloader for ``file://`` URLs (a local mirror; the tests' archives), which pooch lacks."""
    with urllib.request.urlopen(url) as source, open(output_file, "wb") as out:
        shutil.copyfileobj(source, out)


def safe_extract(archive: Path, target: Path, members: list[str]) -> None:
    """Extract ``members`` of a zip, refusing any member whose path escapes ``target``.

    Each member is written to a temporary file beside its destination and renamed into place, so an
    interrupted extraction never leaves a partial file under the name a later run would look for.
    """
    root = target.resolve()
    try:
        with zipfile.ZipFile(archive) as zipped:
            for info in zipped.infolist():
                if not (root / info.filename).resolve().is_relative_to(root):
                    raise DataError(
                        f"{archive}: member {info.filename!r} would be written outside {root}; refused"
                    )
            for name in members:
                with zipped.open(name) as source:
                    write_atomic(root / name, lambda tmp, src=source: _copy_to(src, tmp))
    except (zipfile.BadZipFile, KeyError, EOFError, zlib.error) as exc:
        raise DataError(f"{archive}: corrupt or incomplete zip archive ({exc})") from exc


def _copy_to(source: BinaryIO, path: Path) -> None:
    with open(path, "wb") as out:
        shutil.copyfileobj(source, out)


def download_archive(source: RemoteArchive, data_dir: Path) -> None:
    """Download ``source`` into ``data_dir``, verify it, extract its members and verify each of them.

    Everything happens in a temporary folder inside ``data_dir``; a member is moved to its final name only
    once its checksum matches, so a failed or interrupted download leaves nothing that :func:`locate` finds.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=data_dir, prefix=".download-") as tmp:
        archive = fetch(source.url, source.archive_checksum, Path(tmp), Path(source.url).name)
        extracted = Path(tmp) / "extracted"
        safe_extract(archive, extracted, list(source.members))
        for name, checksum in source.members.items():
            if (got := checksum.of(extracted / name)) != checksum.hexdigest:
                raise DataError(
                    f"{source.url}: member {name} has {checksum.algorithm} {got}, "
                    f"expected {checksum.hexdigest}; refused and removed"
                )
        for name in source.members:
            (data_dir / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(extracted / name, data_dir / name)


def download_file(source: RemoteFile, data_dir: Path) -> Path:
    """Download ``source`` into ``data_dir`` (atomically) and verify it against its pinned checksum."""
    path = fetch(source.url, source.checksum, data_dir, source.name)
    if source.checksum is None:
        log.warning("%s has no published checksum; sha256 of the download: %s", source.url, sha256_of(path))
    return path


def locate(
    explicit: str | os.PathLike[str] | None,
    data_dir: str | os.PathLike[str] | None,
    candidates: list[str],
    source: RemoteArchive | RemoteFile | None,
) -> Path:
    """Return the raw file: ``explicit`` if given, else the first of ``candidates`` under the data dir,
    else download ``source`` there (a zip archive, or a single file). Errors say where we looked."""
    if explicit:
        path = Path(explicit).expanduser()
        if not file_present(path, " (given as data.ratings_path)"):
            raise DataError(f"{path}: file not found (given as data.ratings_path)")
        return path
    root = Path(data_dir).expanduser() if data_dir else default_data_dir()
    found = _first_file(root, candidates)
    if found is not None:
        return found
    if source is None:
        raise DataError(f"none of {candidates} found under {root} (set {DATA_DIR_ENV})")
    # Jobs that start together download once: the others wait here, then find the file.
    name = Path(source.name if isinstance(source, RemoteFile) else source.url).name
    with locked(root / f".download-{name}"):
        found = _first_file(root, candidates)
        if found is not None:
            return found
        try:
            if isinstance(source, RemoteFile):
                return download_file(source, root)
            download_archive(source, root)
        except DataError as exc:
            raise DataError(
                f"none of {candidates} found under {root} (set {DATA_DIR_ENV} or data.data_dir), "
                f"and the download failed: {exc}"
            ) from exc
    return root / candidates[0]


def _first_file(root: Path, candidates: list[str]) -> Path | None:
    """The first of ``candidates`` that exists under ``root`` (something else under its name is an error)."""
    return next((root / name for name in candidates if file_present(root / name)), None)
