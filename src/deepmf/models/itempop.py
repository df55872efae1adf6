"""ItemPop (the paper's Table 2 baseline): every user gets the same ranking, by training popularity."""

from __future__ import annotations

from typing import Any

import torch

from deepmf.data.matrix import SparseRows
from deepmf.models.base import ModelContext, register_model
from deepmf.models.fitted import FittedRecommender


class ItemPop(FittedRecommender):
    """Score of item j = number of training interactions with j (ties are broken pessimistically)."""

    def __init__(self, train_matrix: SparseRows) -> None:
        super().__init__(train_matrix)
        self.register_buffer("counts", torch.zeros(self.n_items))

    def fit_step(self) -> None:
        self.counts.copy_(torch.bincount(self.seen_indices, minlength=self.n_items).float())

    def score_all(self, users: torch.Tensor, n_items: int) -> torch.Tensor:
        return self.counts.expand(len(users), n_items)


@register_model("itempop")
def build_itempop(config: Any, context: ModelContext) -> ItemPop:
    return ItemPop(context.train_matrix)
