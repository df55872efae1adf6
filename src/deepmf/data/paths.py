"""Telling a file that is there from one that is missing, and both from something else under its name."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from deepmf.errors import DataError


def file_present(path: Path, context: str = "") -> bool:
    """Whether ``path`` is a readable regular file; False only when nothing is there.

    Anything else under that name (a folder, a device), or a file that cannot be read, is a DataError
    saying exactly that (``context`` is appended, e.g. where the path was given), so it is never reported
    as missing, nor downloaded over.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return False
    except OSError as exc:  # e.g. a parent that is a file, or a folder we may not enter
        raise DataError(f"{path}: cannot be examined ({exc.strerror}){context}") from exc
    if stat.S_ISDIR(mode):
        raise DataError(f"{path}: is a folder, not a file{context}")
    if not stat.S_ISREG(mode):
        raise DataError(f"{path}: is not a regular file{context}")
    if not os.access(path, os.R_OK):
        raise DataError(f"{path}: exists but cannot be read (permission denied){context}")
    return True
