"""Models fitted without gradients (counts, closed forms, alternating least squares).

They run through the same Lightning loop as DMF: each training epoch is one call of ``fit_step()``
(one ALS sweep; the whole fit for closed-form models), followed by the usual validation, checkpointing
on ``val/ndcg@10`` and logging. Their fitted state lives in persistent buffers, so the checkpoint that
validation selects is the one tested. Scores are arbitrary reals: only their order is used.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from deepmf.data.matrix import SparseRows
from deepmf.models.base import Recommender


def interaction_csr(matrix: SparseRows) -> sp.csr_matrix:
    """Y as a binary (users x items) float64 scipy CSR: every training interaction counts 1."""
    values = np.ones(len(matrix.indices), dtype=np.float64)
    shape = (matrix.n_rows, matrix.n_columns)
    return sp.csr_matrix((values, matrix.indices.cpu().numpy(), matrix.indptr.cpu().numpy()), shape=shape)


class FittedRecommender(Recommender):
    """Base of the non-gradient baselines: implicit feedback, fitted in ``fit_epochs`` steps.

    The training matrix is binarised (the baselines' papers use implicit feedback: a rating is an
    interaction, whatever ``data.input`` says). It is kept on the model's device, as data, not state.
    """

    #: Epochs the run trains for; each runs ``fit_step()`` once.
    fit_epochs: int = 1

    def __init__(self, train_matrix: SparseRows) -> None:
        super().__init__()
        self.n_users, self.n_items = train_matrix.n_rows, train_matrix.n_columns
        self.register_buffer("seen_indptr", train_matrix.indptr.clone(), persistent=False)
        self.register_buffer("seen_indices", train_matrix.indices.clone(), persistent=False)

    # --- what subclasses provide ---------------------------------------------------------------------

    def fit_step(self) -> torch.Tensor | None:
        """One fitting step on the training matrix; may return the objective (logged as train/loss)."""
        raise NotImplementedError

    def score_all(self, users: torch.Tensor, n_items: int) -> torch.Tensor:
        raise NotImplementedError

    # --- shared helpers ----------------------------------------------------------------------------

    @property
    def seen(self) -> SparseRows:
        """Binary Y (user rows) on the model's device."""
        ones = torch.ones_like(self.seen_indices, dtype=torch.float32)
        return SparseRows(self.seen_indptr, self.seen_indices, ones, self.n_items)

    def seen_csr(self) -> sp.csr_matrix:
        return interaction_csr(self.seen)

    def rows_times(self, users: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
        """``Y[users] @ matrix`` for a dense ``(n_items, d)`` matrix, in O(nnz(Y[users]) * d)."""
        indices, offsets, values = self.seen.gather(users)
        return F.embedding_bag(indices, matrix, offsets, mode="sum", per_sample_weights=values)

    def score_items(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        # The evaluation chunk already bounds (users x n_items), so scoring all and gathering is safe.
        return self.score_all(users, self.n_items).gather(1, items)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        unique_users, index = torch.unique(users, return_inverse=True)
        return self.score_all(unique_users, self.n_items)[index, items]
