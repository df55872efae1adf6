"""The DMF tower's first layers for a batch of sparse rows of Y, with a fast backward pass.

A batch of rows of Y is a sparse matrix ``A`` (rows x n_columns) given as ``(indices, offsets, values)``
bags. The first layer is ``A @ W1`` (Eq. 5, ``l1 = W1 x``, no bias, no activation), so with a second layer
the pre-activation is ``z = (A @ W1) @ W2^T``. Forward uses ``F.embedding_bag`` (fast on every device).
PyTorch's embedding-bag backward on CPU (sort + per-index loop) dominated a whole training step, so the
weight gradients are computed here instead, exactly, from the transposed sparse product:

- ``dW2 = dz^T (A W1)``;
- ``dW1 = A^T (dz W2)`` (*direct*, ``nnz x w1`` sparse multiply-adds), or, because ``l1`` is linear,
  ``dW1 = (A^T dz) W2`` (*factored*: ``nnz x w2`` sparse multiply-adds and one dense
  ``n_columns x w2 x w1`` GEMM), or, for very dense batches, the forward itself as ``A (W1 W2^T)``
  (*merged*, see :func:`first_layers_plan`). Dense GEMMs run near peak, so the factored forms win when
  the batch's non-zeros are many compared with ``n_columns`` (MovieLens); the direct one when the input
  dimension is huge and the batch touches few of its rows (Amazon-scale catalogues). All give the same
  values up to float32 rounding; the choice depends on shapes only, so it never needs a device sync.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: A sparse multiply-add into scattered rows costs about this many dense-GEMM multiply-adds (measured on
#: CPU in benchmarks/first_layer.py); used to pick the cheaper, mathematically equal backward.
SPARSE_COST = 8


def bag_of(offsets: torch.Tensor, nnz: int) -> torch.Tensor:
    """For each of the ``nnz`` bag entries, the index of the bag (row of ``A``) it belongs to."""
    lengths = torch.diff(offsets, append=offsets.new_tensor([nnz]))
    bags = torch.arange(len(offsets), device=offsets.device)
    return torch.repeat_interleave(bags, lengths, output_size=nnz)


def transpose_matmul(
    indices: torch.Tensor, bags: torch.Tensor, values: torch.Tensor, n_columns: int, x: torch.Tensor
) -> torch.Tensor:
    """``A^T @ x`` as a dense ``(n_columns, x.shape[1])`` tensor, with ``A``'s entries ``(bags, indices)``."""
    transposed = torch.sparse_coo_tensor(
        torch.stack([indices, bags]), values, (n_columns, x.shape[0]), check_invariants=False
    )
    return torch.sparse.mm(transposed, x)


def first_layers_plan(n_columns: int, width1: int, width2: int, nnz: int) -> str:
    """The cheapest exact way to compute ``(A @ W1) @ W2^T`` and its weight gradients, from shapes only.

    Costs in dense multiply-adds (a sparse one counts ``SPARSE_COST``):
    ``direct``: embedding-bag at ``width1`` forward, ``A^T (dz W2)`` backward;
    ``factored``: embedding-bag at ``width1`` forward, ``(A^T dz) W2`` backward (one ``n x w2 x w1`` GEMM);
    ``merged``: ``A @ (W1 W2^T)`` forward, ``P = A^T dz``, ``dW1 = P W2``, ``dW2 = P^T W1`` (three GEMMs,
    but the sparse work is only ``width2`` wide): wins when the batch's non-zeros exceed about
    ``n_columns * width2 / 4``, e.g. ML-1M's item tower or a whole evaluation pass.
    """
    gemm = n_columns * width1 * width2
    costs = {
        "factored": SPARSE_COST * nnz * (width1 + width2) + gemm,
        "direct": 2 * SPARSE_COST * nnz * width1,
        "merged": 2 * SPARSE_COST * nnz * width2 + 3 * gemm,
    }
    return min(costs, key=costs.__getitem__)


class _SparseRowsMatmul(torch.autograd.Function):
    """``A @ W1`` (a tower with a single layer, DMF-1)."""

    @staticmethod
    def forward(ctx, weight, indices, offsets, values):  # type: ignore[override]
        ctx.save_for_backward(indices, offsets, values)
        ctx.n_columns = weight.shape[0]
        return F.embedding_bag(indices, weight, offsets, mode="sum", per_sample_weights=values)

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[override]
        indices, offsets, values = ctx.saved_tensors
        bags = bag_of(offsets, len(indices))
        return transpose_matmul(indices, bags, values, ctx.n_columns, grad_out), None, None, None


class _SparseRowsTwoLayers(torch.autograd.Function):
    """``(A @ W1) @ W2^T`` with the weight gradients of the module docstring."""

    @staticmethod
    def forward(ctx, weight1, weight2, indices, offsets, values):  # type: ignore[override]
        plan = first_layers_plan(weight1.shape[0], weight1.shape[1], weight2.shape[0], len(indices))
        ctx.plan, ctx.n_columns = plan, weight1.shape[0]
        if plan == "merged":
            merged = weight1 @ weight2.T
            ctx.save_for_backward(weight1, weight2, indices, offsets, values)
            return F.embedding_bag(indices, merged, offsets, mode="sum", per_sample_weights=values)
        hidden = F.embedding_bag(indices, weight1, offsets, mode="sum", per_sample_weights=values)
        ctx.save_for_backward(hidden, weight2, indices, offsets, values)
        return hidden @ weight2.T

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[override]
        saved, weight2, indices, offsets, values = ctx.saved_tensors
        bags = bag_of(offsets, len(indices))
        if ctx.plan == "direct":
            grad_weight1 = transpose_matmul(indices, bags, values, ctx.n_columns, grad_out @ weight2)
            return grad_weight1, grad_out.T @ saved, None, None, None
        projected = transpose_matmul(indices, bags, values, ctx.n_columns, grad_out)  # A^T dz
        if ctx.plan == "factored":
            return projected @ weight2, grad_out.T @ saved, None, None, None
        return projected @ weight2, projected.T @ saved, None, None, None  # saved is W1


def sparse_rows_matmul(
    indices: torch.Tensor, offsets: torch.Tensor, values: torch.Tensor, weight: torch.Tensor
) -> torch.Tensor:
    """``A @ weight`` for the bags ``(indices, offsets, values)``; gradients flow to ``weight`` only."""
    return _SparseRowsMatmul.apply(weight, indices, offsets, values)


def sparse_rows_two_layers(
    indices: torch.Tensor,
    offsets: torch.Tensor,
    values: torch.Tensor,
    weight1: torch.Tensor,
    weight2: torch.Tensor,
) -> torch.Tensor:
    """``(A @ weight1) @ weight2^T``; gradients flow to both weights (``weight2`` is ``nn.Linear``'s)."""
    return _SparseRowsTwoLayers.apply(weight1, weight2, indices, offsets, values)
