"""The DMF tower's first layers for a batch of sparse rows of Y, with a fast backward pass.

A batch of rows of Y is a sparse matrix ``A`` (rows x n_columns) given as ``(indices, offsets, values)``
bags. The first layer is ``A @ W1`` (Eq. 5, ``l1 = W1 x``, no bias, no activation), so with a second layer
the pre-activation is ``z = (A @ W1) @ W2^T``. Forward uses ``F.embedding_bag`` (fast on every device).
PyTorch's embedding-bag backward on CPU (sort + per-index loop) dominated a whole training step, so the
weight gradients are computed here instead, exactly, from the transposed sparse product:

- ``dW2 = dz^T (A W1)``;
- ``dW1 = A^T (dz W2)`` (*direct*, ``nnz x w1`` sparse multiply-adds), or, because ``l1`` is linear,
  ``dW1 = (A^T dz) W2`` (*factored*: ``nnz x w2`` sparse multiply-adds and one dense
  ``n_columns x w2 x w1`` GEMM). Dense GEMMs run near peak, so the factored form wins when the batch's
  non-zeros are many compared with ``n_columns`` (MovieLens); the direct one when the input dimension is
  huge and the batch touches few of its rows (Amazon-scale catalogues). Both give the same gradient up to
  float32 rounding; the choice depends on shapes only, so it never needs a device sync.
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


def use_factored_backward(n_columns: int, width2: int, nnz: int) -> bool:
    """Whether ``(A^T dz) W2`` (dense ``n_columns x width2`` work) beats ``A^T (dz W2)`` (``nnz`` sparse)."""
    return n_columns * width2 <= SPARSE_COST * nnz


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
        hidden = F.embedding_bag(indices, weight1, offsets, mode="sum", per_sample_weights=values)
        ctx.save_for_backward(weight2, hidden, indices, offsets, values)
        ctx.n_columns = weight1.shape[0]
        return hidden @ weight2.T

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[override]
        weight2, hidden, indices, offsets, values = ctx.saved_tensors
        grad_weight2 = grad_out.T @ hidden
        bags = bag_of(offsets, len(indices))
        if use_factored_backward(ctx.n_columns, weight2.shape[0], len(indices)):
            grad_weight1 = transpose_matmul(indices, bags, values, ctx.n_columns, grad_out) @ weight2
        else:
            grad_weight1 = transpose_matmul(indices, bags, values, ctx.n_columns, grad_out @ weight2)
        return grad_weight1, grad_weight2, None, None, None


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
