"""Finding raw files under the data directory, or downloading and verifying them."""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import shutil
import tempfile
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from deepmf.errors import DataError
from deepmf.io import locked, write_atomic

log = logging.getLogger(__name__)

DATA_DIR_ENV = "DEEPMF_DATA_DIR"


@dataclass(frozen=True)
class Checksum:
    """A pinned digest. ``algorithm`` is a hashlib name, or ``git-blob`` (git's sha1 of a blob)."""

    algorithm: str
    hexdigest: str

    def of(self, path: Path) -> str:
        if self.algorithm == "git-blob":
            digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
        else:
            digest = hashlib.new(self.algorithm)
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


def sha256_of(path: Path) -> str:
    return Checksum("sha256", "").of(path)


def default_data_dir() -> Path:
    return Path(os.environ.get(DATA_DIR_ENV, "data")).expanduser()


def safe_extract(archive: Path, target: Path, members: list[str]) -> None:
    """Extract ``members`` of a zip, refusing any member whose path escapes ``target``.

    Each member is written to a temporary file beside its destination and renamed into place, so an
    interrupted extraction never leaves a partial file under the name a later run would look for.
    """
    root = target.resolve()
    try:
        with zipfile.ZipFile(archive) as zipped:
            for info in zipped.infolist():
                destination = (root / info.filename).resolve()
                if not destination.is_relative_to(root):
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
        staging = Path(tmp)
        archive = staging / Path(source.url).name
        log.info("downloading %s", source.url)
        try:
            with urllib.request.urlopen(source.url, timeout=60) as response, open(archive, "wb") as out:
                shutil.copyfileobj(response, out)
        except (OSError, http.client.HTTPException) as exc:
            raise DataError(f"could not download {source.url} ({exc})") from exc
        got = source.archive_checksum.of(archive)
        if got != source.archive_checksum.hexdigest:
            archive.unlink()
            raise DataError(
                f"{source.url}: {source.archive_checksum.algorithm} is {got}, expected "
                f"{source.archive_checksum.hexdigest}; the download was refused and removed"
            )
        extracted = staging / "extracted"
        safe_extract(archive, extracted, list(source.members))
        for name, checksum in source.members.items():
            if not checksum.matches(extracted / name):
                raise DataError(
                    f"{source.url}: member {name} has {checksum.algorithm} {checksum.of(extracted / name)}, "
                    f"expected {checksum.hexdigest}; refused and removed"
                )
        for name in source.members:
            (data_dir / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(extracted / name, data_dir / name)


def locate(
    explicit: str | os.PathLike[str] | None,
    data_dir: str | os.PathLike[str] | None,
    candidates: list[str],
    source: RemoteArchive | None,
) -> Path:
    """Return the raw file: ``explicit`` if given, else the first of ``candidates`` under the data dir,
    else download ``source`` there. Errors say where we looked."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise DataError(f"{path}: file not found (given as data.ratings_path)")
        return path
    root = Path(data_dir).expanduser() if data_dir else default_data_dir()
    found = _first_file(root, candidates)
    if found is not None:
        return found
    if source is None:
        raise DataError(f"none of {candidates} found under {root} (set {DATA_DIR_ENV})")
    # Jobs that start together download once: the others wait here, then find the extracted file.
    with locked(root / f".download-{Path(source.url).name}"):
        found = _first_file(root, candidates)
        if found is not None:
            return found
        try:
            download_archive(source, root)
        except DataError as exc:
            raise DataError(
                f"none of {candidates} found under {root} (set {DATA_DIR_ENV} or data.data_dir), "
                f"and the download failed: {exc}"
            ) from exc
    return root / candidates[0]


def _first_file(root: Path, candidates: list[str]) -> Path | None:
    """The first of ``candidates`` that exists under ``root``."""
    return next((root / name for name in candidates if (root / name).is_file()), None)


@dataclass(frozen=True)
class RemoteFile:
    """A single file published at ``url``, saved as ``name`` under the data dir.

    ``checksum`` is None only where no digest of the file has been published: the download is then
    accepted unverified and its sha256 is logged, never invented.
    """

    url: str
    name: str
    checksum: Checksum | None


def download_file(source: RemoteFile, data_dir: Path) -> Path:
    """Download ``source`` into ``data_dir`` (atomically) and verify it against its pinned checksum."""
    destination = data_dir / source.name
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=destination.parent, delete=False, suffix=".part") as tmp:
        partial = Path(tmp.name)
        log.info("downloading %s", source.url)
        try:
            with urllib.request.urlopen(source.url, timeout=60) as response:
                shutil.copyfileobj(response, tmp)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise DataError(f"could not download {source.url} ({exc})") from exc
    if source.checksum is None:
        log.warning(
            "%s has no published checksum; sha256 of the download: %s", source.url, sha256_of(partial)
        )
    elif not source.checksum.matches(partial):
        got = source.checksum.of(partial)
        partial.unlink(missing_ok=True)
        raise DataError(
            f"{source.url}: {source.checksum.algorithm} is {got}, expected {source.checksum.hexdigest}; "
            "the download was refused and removed"
        )
    os.replace(partial, destination)
    return destination


def locate_or_download(
    explicit: str | os.PathLike[str] | None,
    data_dir: str | os.PathLike[str] | None,
    candidates: list[str],
    source: RemoteFile,
) -> Path:
    """Like :func:`locate`, for data published as a single file rather than a zip archive."""
    root = Path(data_dir).expanduser() if data_dir else default_data_dir()
    if explicit or _first_file(root, candidates) is not None:
        return locate(explicit, root, candidates, None)
    with locked(root / f".download-{Path(source.name).name}"):  # one download for jobs started together
        found = _first_file(root, candidates)
        if found is not None:
            return found
        try:
            return download_file(source, root)
        except DataError as exc:
            raise DataError(
                f"none of {candidates} found under {root} (set {DATA_DIR_ENV} or data.data_dir), "
                f"and the download failed: {exc}"
            ) from exc
