"""LFM (the paper's Table 3 baseline): learned random-initialised input vectors + one projection."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from deepmf.errors import ConfigError
from deepmf.models.base import CosineTwoTower, ModelContext, check_positive_ints, register_model


class LFM(CosineTwoTower):
    """Like DMF-1, but each user / item enters as a free learned vector instead of a row of Y."""

    def __init__(self, n_users: int, n_items: int, embedding_dim: int, factors: int, init_std: float) -> None:
        super().__init__()
        self.n_users, self.n_items = n_users, n_items
        self.user_embedding = nn.Parameter(torch.randn(n_users, embedding_dim) * init_std)
        self.item_embedding = nn.Parameter(torch.randn(n_items, embedding_dim) * init_std)
        self.user_projection = nn.Linear(embedding_dim, factors, bias=False)
        self.item_projection = nn.Linear(embedding_dim, factors, bias=False)
        for projection in (self.user_projection, self.item_projection):
            nn.init.normal_(projection.weight, std=init_std)

    def user_vectors(self, users: torch.Tensor) -> torch.Tensor:
        return self.user_projection(self.user_embedding[users])

    def item_vectors(self, items: torch.Tensor) -> torch.Tensor:
        return self.item_projection(self.item_embedding[items])


def check_lfm_config(config: Any) -> None:
    check_positive_ints(config, ("embedding_dim", "factors"))
    if not config.get("init_std", 0) > 0:
        raise ConfigError(f"model.init_std must be > 0, got {config.get('init_std')!r}")


@register_model("lfm", check=check_lfm_config)
def build_lfm(config: Any, context: ModelContext) -> LFM:
    return LFM(context.n_users, context.n_items, config.embedding_dim, config.factors, config.init_std)
