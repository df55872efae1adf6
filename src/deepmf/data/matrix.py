"""The input matrix Y (Eq. 1 / Eq. 2) as CSR rows, built from training interactions only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch


@dataclass
class SparseRows:
    """Rows of a sparse matrix in CSR form, as tensors that can live on the training device.

    ``gather(rows)`` returns the inputs of a weighted ``embedding_bag``: for each requested row, its
    non-zero column indices and values, so ``row @ W`` costs O(nnz) instead of O(n_columns).
    """

    indptr: torch.Tensor  # (n_rows + 1,) int64
    indices: torch.Tensor  # (nnz,) int64
    values: torch.Tensor  # (nnz,) float32
    n_columns: int

    @property
    def n_rows(self) -> int:
        return len(self.indptr) - 1

    @classmethod
    def from_coo(
        cls, rows: np.ndarray, cols: np.ndarray, values: np.ndarray, n_rows: int, n_columns: int
    ) -> SparseRows:
        """The rows of the given entries, by scipy's COO -> CSR (linear time; the columns of each row
        sorted, a repeated entry summed, as an embedding bag would sum it)."""
        return cls.from_scipy(sp.csr_matrix((values, (rows, cols)), (n_rows, n_columns), dtype=np.float32))

    @classmethod
    def from_scipy(cls, csr: sp.csr_matrix) -> SparseRows:
        as_long = (torch.as_tensor(a, dtype=torch.int64) for a in (csr.indptr, csr.indices))
        return cls(*as_long, torch.as_tensor(csr.data, dtype=torch.float32), csr.shape[1])

    def to(self, device: torch.device | str) -> SparseRows:
        return SparseRows(
            self.indptr.to(device), self.indices.to(device), self.values.to(device), self.n_columns
        )

    def transpose(self) -> SparseRows:
        arrays = (self.values.cpu().numpy(), self.indices.cpu().numpy(), self.indptr.cpu().numpy())
        csr = sp.csr_matrix(arrays, shape=(self.n_rows, self.n_columns))
        return SparseRows.from_scipy(csr.T.tocsr()).to(self.indptr.device)

    def gather(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return ``(indices, offsets, values)`` of the given rows for ``F.embedding_bag``."""
        starts = self.indptr[rows]
        lengths = self.indptr[rows + 1] - starts
        offsets = torch.cumsum(lengths, 0) - lengths
        total = int(lengths.sum())
        # Position j of the flattened bag belongs to row r = bag_of[j], at starts[r] + (j - offsets[r]).
        shift = torch.repeat_interleave(starts - offsets, lengths, output_size=total)
        positions = torch.arange(total, device=rows.device) + shift
        return self.indices.index_select(0, positions), offsets, self.values.index_select(0, positions)

    def dense(self) -> torch.Tensor:
        """The dense matrix (for tests and reference implementations only)."""
        out = torch.zeros(self.n_rows, self.n_columns, device=self.indptr.device)
        counts = self.indptr[1:] - self.indptr[:-1]
        rows = torch.repeat_interleave(torch.arange(self.n_rows, device=counts.device), counts)
        out[rows, self.indices] = self.values
        return out


def bag_of(offsets: torch.Tensor, nnz: int) -> torch.Tensor:
    """For each of the ``nnz`` entries of bags starting at ``offsets`` (as ``gather`` returns them), the
    index of the bag (requested row) it belongs to."""
    # torch.full, not offsets.new_tensor([nnz]): a host-to-device copy would sync with a GPU.
    lengths = torch.diff(offsets, append=torch.full((1,), nnz, dtype=offsets.dtype, device=offsets.device))
    bags = torch.arange(len(offsets), device=offsets.device)
    return torch.repeat_interleave(bags, lengths, output_size=nnz)


def rating_matrix(
    users: np.ndarray, items: np.ndarray, ratings: np.ndarray, n_users: int, n_items: int, input: str
) -> SparseRows:
    """Y with user rows: ``input='rating'`` is Eq. 2 (Y_ij = R_ij), ``'binary'`` is Eq. 1 (Y_ij = 1)."""
    if input == "rating":
        values = ratings
    elif input == "binary":
        values = np.ones_like(ratings)
    else:
        raise ValueError(f"data.input must be 'rating' or 'binary', got {input!r}")
    return SparseRows.from_coo(users, items, values, n_users, n_items)
