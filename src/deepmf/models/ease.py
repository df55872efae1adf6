"""EASE^R (Steck, WWW 2019): a closed-form item-item linear model with a zero diagonal."""

from __future__ import annotations

from typing import Any

import torch

from deepmf.data.matrix import SparseRows
from deepmf.errors import ConfigError
from deepmf.models.base import ModelContext, register_model
from deepmf.models.fitted import FittedRecommender


def ease_weights(gram: torch.Tensor, l2: float) -> torch.Tensor:
    """``argmin_B ||X - XB||^2 + l2 ||B||^2`` s.t. ``diag(B) = 0``, from ``gram = X^T X``.

    Closed form (Steck 2019, Eq. 8): ``P = (X^T X + l2 I)^-1``, ``B_ij = -P_ij / P_jj``, ``B_jj = 0``.
    """
    eye = torch.eye(len(gram), dtype=gram.dtype, device=gram.device)
    precision = torch.linalg.inv(gram + l2 * eye)
    weights = -precision / precision.diagonal()
    return weights.fill_diagonal_(0.0)


class EASE(FittedRecommender):
    """``score(u, ·) = Y_u B`` with B from :func:`ease_weights` (dense: n_items^2 floats)."""

    def __init__(self, train_matrix: SparseRows, l2: float) -> None:
        super().__init__(train_matrix)
        self.l2 = l2
        self.register_buffer("item_weights", torch.zeros(self.n_items, self.n_items))

    def fit_step(self) -> None:
        interactions = self.seen_csr()
        # float64: the inverse of a Gram matrix with counts in the thousands loses digits in float32.
        gram = torch.as_tensor((interactions.T @ interactions).toarray(), device=self.item_weights.device)
        self.item_weights.copy_(ease_weights(gram, self.l2))

    def score_all(self, users: torch.Tensor, n_items: int) -> torch.Tensor:
        return self.rows_times(users, self.item_weights)


def check_ease_config(config: Any) -> None:
    l2 = config.get("l2")
    if isinstance(l2, bool) or not isinstance(l2, int | float) or l2 <= 0:
        raise ConfigError(f"model.l2 must be a number > 0, got {l2!r}")


@register_model("ease", check=check_ease_config)
def build_ease(config: Any, context: ModelContext) -> EASE:
    return EASE(context.train_matrix, float(config.l2))
