"""Reference DMF that feeds dense rows of Y, as most public re-implementations do (benchmarks only).

Same model as ``deepmf.models.dmf.DMF`` (towers ``Y_i* -> [512, 64]``, ``Y_*j -> [1024, 64]``, cosine,
Eq. 5-8), but the first layer is a dense ``nn.Linear`` over the full row and every pair of a batch goes
through both towers (no de-duplication), with torch's default Adam. Memory holds Y densely
(``n_users x n_items`` floats), which is exactly what makes this approach fail at Amazon scale.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from deepmf.data.matrix import SparseRows
from deepmf.models.base import SCORE_MAX, SCORE_MIN, CosineTwoTower


def dense_tower(input_dim: int, widths: list[int], init_std: float) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(input_dim, widths[0], bias=False)]
    for width_in, width_out in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(width_in, width_out), nn.ReLU()]
    for layer in layers:
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, std=init_std)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
    return nn.Sequential(*layers)


class DenseRowDMF(CosineTwoTower):
    """DMF with dense input rows; ``forward`` runs both towers once per pair."""

    def __init__(
        self, train_matrix: SparseRows, user_widths: list[int], item_widths: list[int], init_std: float
    ) -> None:
        super().__init__()
        self.n_users, self.n_items = train_matrix.n_rows, train_matrix.n_columns
        self.register_buffer("y", train_matrix.dense(), persistent=False)
        self.user_tower = dense_tower(self.n_items, user_widths, init_std)
        self.item_tower = dense_tower(self.n_users, item_widths, init_std)

    def user_vectors(self, users: torch.Tensor) -> torch.Tensor:
        return self.user_tower(self.y[users])

    def item_vectors(self, items: torch.Tensor) -> torch.Tensor:
        return self.item_tower(self.y[:, items].T)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        p = F.normalize(self.user_vectors(users), dim=-1)
        q = F.normalize(self.item_vectors(items), dim=-1)
        return (p * q).sum(-1).clamp(SCORE_MIN, SCORE_MAX)
