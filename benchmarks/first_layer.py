"""Calibrate ``SPARSE_COST`` (deepmf.models.sparse_layers): embedding-bag vs GEMM multiply-adds.

    python benchmarks/first_layer.py --threads 2 [--out docs/benchmarks/first_layer.md]

Times, on random data shaped like DMF's first layers on MovieLens-100k (a batch of ~200 rows with ~100
non-zeros each, widths 512 / 1024, 64 factors), ``F.embedding_bag`` (sum, per-sample weights) over ``W1``
as one matrix and over ``W1`` in the library's column blocks (``deepmf.models.weight_blocks``), and a
dense ``n_columns x 64 @ 64 x width`` GEMM, and prints each one's multiply-adds per second and the ratio
of the GEMM's to the blocked embedding-bag's.
Then times the sort that :func:`deepmf.models.sparse_layers.transpose_bags` does once per tower and step,
with int64 keys, with the narrowest keys, and with those padded to ``CPU_RADIX_MIN`` (what it sorts).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from provenance import write_report

from deepmf.models.sparse_layers import CPU_RADIX_MIN, column_key_dtype, column_sort_keys
from deepmf.models.weight_blocks import block_width, blocked_bags_matmul, to_blocks


def median_ms(fn: Callable[[], torch.Tensor], repeats: int = 30, inner: int = 10) -> float:
    fn()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - started) / inner * 1000)
    return statistics.median(samples)


def rates(n_columns: int, width: int, rows: int, per_row: int, seed: int = 0) -> tuple[float, float, float]:
    """Giga multiply-adds per second of the embedding-bag over ``W1`` as one matrix, over ``W1`` in the
    library's column blocks (what a training step runs), and of the GEMM at these shapes."""
    generator = torch.Generator().manual_seed(seed)
    nnz = rows * per_row
    weight = torch.randn(n_columns, width, generator=generator)
    blocks = to_blocks(weight, block_width(n_columns, width))
    indices = torch.randint(n_columns, (nnz,), generator=generator)
    offsets = torch.arange(0, nnz, per_row)
    values = torch.rand(nnz, generator=generator)
    projected, second = torch.randn(n_columns, 64), torch.randn(64, width)
    bag_ms = median_ms(
        lambda: F.embedding_bag(indices, weight, offsets, mode="sum", per_sample_weights=values)
    )
    blocked_ms = median_ms(lambda: blocked_bags_matmul((indices, offsets, values), blocks))
    gemm_ms = median_ms(lambda: projected @ second)
    macs = nnz * width / 1e6
    return macs / bag_ms, macs / blocked_ms, n_columns * 64 * width / gemm_ms / 1e6


def sort_ms(n_columns: int, nnz: int, seed: int = 0) -> tuple[float, float, float]:
    """Milliseconds of a stable sort of ``nnz`` column keys: int64, narrowest, narrowest padded."""
    keys = torch.randint(n_columns, (nnz,), generator=torch.Generator().manual_seed(seed))
    narrow, padded = keys.to(column_key_dtype(n_columns)), column_sort_keys(keys, n_columns)
    return tuple(median_ms(lambda k=k: torch.sort(k, stable=True)) for k in (keys, narrow, padded))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--out", type=Path, help="also write the markdown table here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lines = [
        "| n_columns | width | nnz | embedding-bag GMAC/s, one matrix | in blocks (columns) | GEMM GMAC/s "
        "| ratio GEMM / blocks (SPARSE_COST) |",
        "|---|---|---|---|---|---|---|",
    ]
    for n_columns, width, rows, per_row in ((1682, 512, 200, 106), (943, 1024, 240, 60)):
        plain, blocked, gemm = rates(n_columns, width, rows, per_row)
        lines.append(
            f"| {n_columns} | {width} | {rows * per_row} | {plain:.1f} | {blocked:.1f} "
            f"({block_width(n_columns, width)}) | {gemm:.1f} | {gemm / blocked:.2f} |"
        )
    lines += [
        "",
        "| n_columns | nnz | sort ms, int64 keys | narrowest keys | narrowest, padded to "
        f"{CPU_RADIX_MIN:,} |",
        "|---|---|---|---|---|",
    ]
    # The non-zeros of a training batch's rows on ML-100k (users are drawn by activity, so ~180 each).
    for n_columns, nnz in ((1682, 36_000), (943, 14_400)):
        wide, narrow, padded = sort_ms(n_columns, nnz)
        lines.append(f"| {n_columns} | {nnz} | {wide:.3f} | {narrow:.3f} | {padded:.3f} |")
    print("\n".join(lines))
    if args.out:
        write_report(args.out, lines, details=f", threads={args.threads}")


if __name__ == "__main__":
    main()
