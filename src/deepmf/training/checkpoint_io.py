"""Checkpoint files written atomically and read without executing code from them."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from pytorch_lightning.plugins import TorchCheckpointIO

from deepmf.errors import DataError
from deepmf.io import atomic_path


class SafeCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint IO for local files, with two guarantees it does not give by itself.

    Atomic: Lightning 2.6 writes through an fsspec transaction whose temporary file lives in the system temp
    folder, then ``shutil.move``s it; across file systems that is a copy, which a kill can cut short. Here the
    temporary file sits beside the checkpoint and ``os.replace`` puts it in place.
    Safe: every load is ``torch.load(weights_only=True)`` whatever the caller asks, so a checkpoint holding
    a pickled object (code that runs when unpickled) is refused rather than executed.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        if storage_options is not None:
            raise TypeError("SafeCheckpointIO does not take storage_options")
        with atomic_path(path) as tmp:
            torch.save(checkpoint, tmp)

    def load_checkpoint(
        self,
        path: Any,
        map_location: Callable | str | torch.device | None = lambda storage, loc: storage,
        weights_only: bool | None = None,
    ) -> dict[str, Any]:
        return load_checkpoint(path, map_location)


def load_checkpoint(path: str | Path, map_location: Any = "cpu", mmap: bool = False) -> dict[str, Any]:
    """``torch.load(path, weights_only=True)`` with errors that name the file and say what is wrong.

    ``mmap=True`` maps the tensors instead of reading them: for reading a checkpoint's small entries.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: checkpoint not found")
    try:
        return torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"{path}: refused: the checkpoint holds objects other than tensors and plain values, and "
            f"loading it could run code from it ({reason})"
        ) from exc
    except (RuntimeError, EOFError, OSError) as exc:
        raise DataError(f"{path}: cannot read checkpoint ({exc}); it is truncated or corrupt") from exc
