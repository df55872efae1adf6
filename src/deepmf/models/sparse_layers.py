"""The DMF tower's first layers for a batch of sparse rows of Y, with a fast backward pass.

A batch of rows of Y is a sparse matrix ``A`` (rows x n_columns) given as ``(indices, offsets, values)``
bags. The first layer is ``A @ W1`` (Eq. 5, ``l1 = W1 x``, no bias, no activation), so with a second layer
the pre-activation is ``z = (A @ W1) @ W2^T``. Forward is a weighted ``F.embedding_bag`` (fast on every
device). PyTorch's embedding-bag backward on CPU (a sort + a per-index loop) and ``torch.sparse.mm`` with a
COO matrix (a coalescing sort + a slow kernel) dominated a whole training step, so the weight gradients
are computed here instead, exactly, with ``A^T`` as embedding bags too: ``A``'s entries are sorted once by
column (:func:`transpose_bags`), and ``A^T @ x`` is then ``embedding_bag`` over the rows of ``x``.

- ``dW2 = dz^T (A W1)``;
- ``dW1 = A^T (dz W2)`` (*direct*: ``nnz x w1`` sparse multiply-adds), or, because ``l1`` is linear,
  ``dW1 = (A^T dz) W2`` (*factored*: ``nnz x w2`` sparse multiply-adds and one dense
  ``n_columns x w2 x w1`` GEMM), or, for very dense batches, the forward itself as ``A (W1 W2^T)``
  (*merged*, see :func:`first_layers_plan`). The direct form wins on training batches (tens of
  non-zeros per column of ``A`` at most); the factored and merged ones when the non-zeros are many
  compared with ``n_columns``, as in a whole evaluation pass. All give the same values up to float32
  rounding; the choice depends on shapes only, so it never needs a device sync.

``W1`` comes as column blocks (:mod:`deepmf.models.weight_blocks`), so every embedding-bag at ``W1``'s
width runs block by block with the block in cache; with one block this is the plain matrix.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from deepmf.data.matrix import bag_of
from deepmf.models.weight_blocks import Bags, blocked_bags_matmul, to_blocks, to_matrix

#: A weighted embedding-bag multiply-add over W1's blocks costs about this many dense-GEMM multiply-adds (CPU,
#: measured by ``python benchmarks/first_layer.py``: 2.4-2.7); used to pick the cheaper, equal computation.
SPARSE_COST = 2.5

#: PyTorch's CPU ``torch.sort`` takes its radix-sort path for 1-D integer tensors from this length on.
CPU_RADIX_MIN = 32_768


def column_key_dtype(n_columns: int) -> torch.dtype:
    """The narrowest integer type that holds every column index and one past the last (the padding)."""
    return torch.int16 if n_columns < torch.iinfo(torch.int16).max else torch.int32


def column_sort_keys(indices: torch.Tensor, n_columns: int) -> torch.Tensor:
    """The keys :func:`transpose_bags` sorts: the column indices in :func:`column_key_dtype` (a radix sort
    makes fewer passes over narrower keys), on CPU padded to :data:`CPU_RADIX_MIN` with ``n_columns``,
    which sorts after every column: below that length PyTorch's CPU sort is a comparison sort, about twice
    as slow on a training batch (``benchmarks/first_layer.py`` times both)."""
    keys = indices.to(column_key_dtype(n_columns))
    short = CPU_RADIX_MIN - len(keys)
    if keys.device.type != "cpu" or short <= 0:
        return keys
    return torch.cat([keys, keys.new_full((short,), n_columns)])


def transpose_bags(
    indices: torch.Tensor, offsets: torch.Tensor, values: torch.Tensor, n_columns: int
) -> Bags:
    """``A^T`` as bags: for each column of ``A``, the rows holding it (ascending) and their values.

    A stable sort of the column indices (:func:`column_sort_keys`), then each column's start by binary
    search: no ``bincount``, whose output size would need a device sync on GPU.
    """
    bags = bag_of(offsets, len(indices))
    sorted_columns, order = torch.sort(column_sort_keys(indices, n_columns), stable=True)
    # Any padding sorted last (stable, past every column): the first len(indices) are the entries.
    sorted_columns, order = sorted_columns[: len(indices)], order[: len(indices)]
    starts = torch.searchsorted(
        sorted_columns, torch.arange(n_columns, device=indices.device, dtype=sorted_columns.dtype)
    )
    return bags.index_select(0, order), starts, values.index_select(0, order)


def bags_matmul(bags: Bags, x: torch.Tensor) -> torch.Tensor:
    """``A @ x`` for ``A`` given as bags (``x`` has one row per column of ``A``)."""
    indices, offsets, values = bags
    return F.embedding_bag(indices, x, offsets, mode="sum", per_sample_weights=values)


def first_layers_plan(n_columns: int, width1: int, width2: int, nnz: int) -> str:
    """The cheapest exact way to compute ``(A @ W1) @ W2^T`` and its weight gradients, from shapes only.

    Costs in dense multiply-adds (a sparse one counts ``SPARSE_COST``):
    ``direct``: embedding-bag at ``width1`` forward, ``A^T (dz W2)`` backward;
    ``factored``: embedding-bag at ``width1`` forward, ``(A^T dz) W2`` backward (one ``n x w2 x w1`` GEMM);
    ``merged``: ``A @ (W1 W2^T)`` forward, ``P = A^T dz``, ``dW1 = P W2``, ``dW2 = P^T W1`` (three GEMMs,
    but the sparse work is only ``width2`` wide).
    """
    gemm = n_columns * width1 * width2
    costs = {
        "direct": 2 * SPARSE_COST * nnz * width1,
        "factored": SPARSE_COST * nnz * (width1 + width2) + gemm,
        "merged": 2 * SPARSE_COST * nnz * width2 + 3 * gemm,
    }
    return min(costs, key=costs.__getitem__)


def merged_forward_is_cheaper(n_columns: int, width1: int, width2: int, nnz: int) -> bool:
    """Without gradients (evaluation), is ``A @ (W1 W2^T)`` cheaper than ``(A @ W1) @ W2^T``?"""
    return SPARSE_COST * nnz * width2 + n_columns * width1 * width2 < SPARSE_COST * nnz * width1


def second_layer_blocks(weight2: torch.Tensor, k: int) -> torch.Tensor:
    """``nn.Linear``'s ``W2`` (``out x k*block``) split by ``W1``'s blocks, ``(k, out, block)``: with ``h``
    per block, ``sum_j h[j] @ blocks[j]^T`` is ``h_matrix @ W2^T`` and ``dz @ blocks[j]`` is block ``j`` of
    ``dz @ W2``."""
    out, width = weight2.shape
    return weight2.view(out, k, width // k).transpose(0, 1)


def second_layer_gradient(grad_out: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    """``dW2 = dz^T h`` for ``h`` given per block, ``(k, rows, block)``; returns ``out x k*block``."""
    return to_matrix(torch.matmul(grad_out.T, hidden))


class _SparseRowsMatmul(torch.autograd.Function):
    """``A @ W1`` (a tower with a single layer, DMF-1), ``W1`` given as blocks (:mod:`weight_blocks`)."""

    @staticmethod
    def forward(ctx, blocks, indices, offsets, values):  # type: ignore[override]
        ctx.save_for_backward(indices, offsets, values)
        ctx.shape = blocks.shape
        return to_matrix(blocked_bags_matmul((indices, offsets, values), blocks))

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[override]
        indices, offsets, values = ctx.saved_tensors
        k, n_columns, block = ctx.shape
        transposed = transpose_bags(indices, offsets, values, n_columns)
        return blocked_bags_matmul(transposed, to_blocks(grad_out, block)), None, None, None


class _SparseRowsTwoLayers(torch.autograd.Function):
    """``(A @ W1) @ W2^T`` with the weight gradients of the module docstring, ``W1`` given as blocks."""

    @staticmethod
    def forward(ctx, blocks, weight2, indices, offsets, values):  # type: ignore[override]
        k, n_columns, block = blocks.shape
        plan = first_layers_plan(n_columns, k * block, weight2.shape[0], len(indices))
        ctx.plan, ctx.shape = plan, blocks.shape
        bags = (indices, offsets, values)
        if plan == "merged":
            ctx.save_for_backward(blocks, weight2, indices, offsets, values)
            return bags_matmul(bags, merged_weight(blocks, weight2))
        hidden = blocked_bags_matmul(bags, blocks)  # (k, rows, block)
        ctx.save_for_backward(hidden, weight2, indices, offsets, values)
        return torch.matmul(hidden, second_layer_blocks(weight2, k).transpose(1, 2)).sum(0)

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[override]
        # saved: the first layer's output per block (direct, factored) or W1's blocks (merged).
        saved, weight2, indices, offsets, values = ctx.saved_tensors
        k, n_columns, block = ctx.shape
        transposed = transpose_bags(indices, offsets, values, n_columns)
        weight2_blocks = second_layer_blocks(weight2, k)
        if ctx.plan == "direct":
            grad_hidden = torch.matmul(grad_out, weight2_blocks)  # (k, rows, block)
            grad_blocks = blocked_bags_matmul(transposed, grad_hidden)
            return grad_blocks, second_layer_gradient(grad_out, saved), None, None, None
        projected = bags_matmul(transposed, grad_out)  # A^T dz, (n_columns, out)
        grad_blocks = torch.matmul(projected, weight2_blocks)  # (A^T dz) W2, per block
        if ctx.plan == "factored":
            return grad_blocks, second_layer_gradient(grad_out, saved), None, None, None
        return grad_blocks, second_layer_gradient(projected, saved), None, None, None  # saved: W1 blocks


def merged_weight(blocks: torch.Tensor, weight2: torch.Tensor) -> torch.Tensor:
    """``W1 @ W2^T`` (``n_columns x out``) from ``W1``'s blocks."""
    return torch.matmul(blocks, second_layer_blocks(weight2, blocks.shape[0]).transpose(1, 2)).sum(0)


def sparse_rows_matmul(
    indices: torch.Tensor, offsets: torch.Tensor, values: torch.Tensor, blocks: torch.Tensor
) -> torch.Tensor:
    """``A @ W1`` for the bags ``(indices, offsets, values)`` and ``W1`` given as ``blocks``
    (:func:`deepmf.models.weight_blocks.to_blocks`); gradients flow to ``blocks`` only."""
    return _SparseRowsMatmul.apply(blocks, indices, offsets, values)


def sparse_rows_two_layers(
    indices: torch.Tensor,
    offsets: torch.Tensor,
    values: torch.Tensor,
    blocks: torch.Tensor,
    weight2: torch.Tensor,
) -> torch.Tensor:
    """``(A @ W1) @ weight2^T``, ``W1`` given as ``blocks``; gradients flow to both weights (``weight2`` is
    ``nn.Linear``'s)."""
    if torch.is_grad_enabled():
        return _SparseRowsTwoLayers.apply(blocks, weight2, indices, offsets, values)
    bags = (indices, offsets, values)
    k, n_columns, block = blocks.shape
    if merged_forward_is_cheaper(n_columns, k * block, weight2.shape[0], len(indices)):
        return bags_matmul(bags, merged_weight(blocks, weight2))
    hidden = blocked_bags_matmul(bags, blocks)
    return torch.matmul(hidden, second_layer_blocks(weight2, k).transpose(1, 2)).sum(0)
