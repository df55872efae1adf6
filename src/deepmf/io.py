"""Atomic file writes (a reader never sees a half-written file) and inter-process locks (one process
builds or downloads a shared file while the others wait for it)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock

# The process's umask, read once at import (os.umask can only be read by setting it).
_UMASK = os.umask(0)
os.umask(_UMASK)


def plain_file_mode(target: Path) -> int:
    """The permissions ``open(target, "w")`` would leave: the existing file's, else 0o666 less the umask
    (``mkstemp`` makes its files 0o600, which would hide results from the other users of a cluster)."""
    try:
        return target.stat().st_mode & 0o777
    except FileNotFoundError:
        return 0o666 & ~_UMASK


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, plain_file_mode(target))
        # Flush to disk before the rename, so even a power cut cannot leave a renamed but empty file.
        with open(tmp_path, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_atomic(path: str | os.PathLike[str], writer: Callable[[Path], None]) -> None:
    """Call ``writer(tmp_path)`` and move the result onto ``path`` atomically."""
    with atomic_path(path) as tmp:
        writer(tmp)


def write_json_atomic(path: str | os.PathLike[str], payload: Any) -> None:
    """Write ``payload`` as pretty JSON, atomically."""
    text = json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n"
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


@contextmanager
def locked(path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold the inter-process lock of ``path`` (the file ``<path>.lock``) for the block.

    Jobs that start together on a cold cache would each build (or download) the same file: under the lock
    one does, and the others, once they hold it in turn, find the finished file. Readers need no lock,
    since every such file is written atomically.
    """
    lock_file = Path(f"{os.fspath(path)}.lock")
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(lock_file):
        yield
