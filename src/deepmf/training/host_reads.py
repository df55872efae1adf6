"""Counting the places where code reads a tensor back to the host (a device sync on a GPU).

On a CPU nothing syncs, but the same Python calls would: :func:`count_host_reads` patches the ``Tensor``
methods that turn a tensor into a Python value (``item``, ``tolist``, ``__bool__``, ``__int__``, ...)
and the ops whose output size depends on the data (``nonzero``, ``unique``, ...), and counts their calls
while the block runs. On CUDA, :func:`count_cuda_syncs` counts what ``torch.cuda.set_sync_debug_mode``
reports. Tests use the first to prove the fast step reads nothing back; ``benchmarks/gpu_check.sh`` the
second, per step, on the GPU.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch

#: Tensor methods whose result is a host value.
HOST_VALUE_METHODS = ("item", "tolist", "numpy", "__bool__", "__int__", "__float__", "__index__")
#: torch functions whose output shape depends on the values (a host read of a size on a GPU).
DATA_DEPENDENT_FUNCTIONS = ("nonzero", "unique", "unique_consecutive", "masked_select", "repeat_interleave")


@contextlib.contextmanager
def count_host_reads() -> Iterator[collections.Counter]:
    """Within the block, ``counts[name]`` is how often each host read above was called."""
    counts: collections.Counter = collections.Counter()
    saved: list[tuple[object, str, object]] = []

    def counting(owner: object, name: str) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            counts[name] += 1
            return original(*args, **kwargs)

        saved.append((owner, name, original))
        setattr(owner, name, wrapper)

    for name in HOST_VALUE_METHODS:
        counting(torch.Tensor, name)
    for name in DATA_DEPENDENT_FUNCTIONS:
        counting(torch, name)
        if hasattr(torch.Tensor, name):
            counting(torch.Tensor, name)
    try:
        yield counts
    finally:
        for owner, name, original in reversed(saved):
            setattr(owner, name, original)


@contextlib.contextmanager
def count_cuda_syncs() -> Iterator[collections.Counter]:
    """Within the block, the CUDA syncs ``torch.cuda.set_sync_debug_mode('warn')`` reports, by source
    line (``file:line``). CUDA only."""
    counts: collections.Counter = collections.Counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            yield counts
        finally:
            torch.cuda.set_sync_debug_mode("default")
    for warning in caught:
        if "synchroniz" in str(warning.message):
            counts[f"{Path(warning.filename).name}:{warning.lineno}"] += 1
