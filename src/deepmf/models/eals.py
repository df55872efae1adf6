"""eALS (He, Zhang, Kan, Chua, SIGIR 2016): element-wise ALS with popularity-weighted missing data.

Objective (their Eq. 3, with r_ui = 1 on observed pairs R):
    L = sum_{(u,i) in R} w (1 - p_u.q_i)^2 + sum_u sum_{i not in R_u} c_i (p_u.q_i)^2
        + reg (sum_u |p_u|^2 + sum_i |q_i|^2),       c_i = c0 f_i^alpha / sum_j f_j^alpha,
with f_i the training popularity of item i. Each coordinate p_uf (then q_if) is set to its exact
minimiser (their Eq. 12 and its item analogue); the sum over missing data is never enumerated: it is
``p_u^T S^q p_u`` with the K x K cache ``S^q = sum_i c_i q_i q_i^T`` (and ``S^p = sum_u p_u p_u^T``).
Coordinate f is updated for all users (items) at once, so a sweep costs O(K (nnz + n K)).
"""

from __future__ import annotations

from typing import Any

import torch

from deepmf.data.matrix import SparseRows
from deepmf.errors import ConfigError
from deepmf.models.base import ModelContext, check_positive_ints, register_model
from deepmf.models.fitted import FittedRecommender


def missing_weights(popularity: torch.Tensor, c0: float, alpha: float) -> torch.Tensor:
    """``c_i = c0 f_i^alpha / sum_j f_j^alpha`` (their Eq. 8): popular items are likelier true negatives."""
    powered = popularity.double().pow(alpha)
    return (c0 * powered / powered.sum()).to(torch.float32)


def segment_sum(index: torch.Tensor, values: torch.Tensor, size: int) -> torch.Tensor:
    return torch.zeros(size, dtype=values.dtype, device=values.device).index_add_(0, index, values)


class EALS(FittedRecommender):
    """Matrix factorisation ``score(u, i) = p_u . q_i`` fitted by eALS, one sweep (P then Q) per epoch."""

    def __init__(
        self,
        train_matrix: SparseRows,
        factors: int,
        reg: float,
        c0: float,
        alpha: float,
        observed_weight: float,
        iterations: int,
        init_std: float,
    ) -> None:
        super().__init__(train_matrix)
        self.reg, self.c0, self.alpha, self.observed_weight = reg, c0, alpha, observed_weight
        self.fit_epochs = iterations
        self.register_buffer("user_factors", torch.randn(self.n_users, factors) * init_std)
        self.register_buffer("item_factors", torch.randn(self.n_items, factors) * init_std)

    def observed_pairs(self) -> tuple[torch.Tensor, torch.Tensor]:
        counts = self.seen_indptr[1:] - self.seen_indptr[:-1]
        users = torch.repeat_interleave(torch.arange(self.n_users, device=counts.device), counts)
        return users, self.seen_indices

    def missing_weights(self) -> torch.Tensor:
        popularity = torch.bincount(self.seen_indices, minlength=self.n_items)
        return missing_weights(popularity, self.c0, self.alpha)

    @torch.no_grad()
    def fit_step(self) -> torch.Tensor:
        users, items = self.observed_pairs()
        c = self.missing_weights()
        w = self.observed_weight
        w_minus_c = w - c[items]
        # Factor-major copies: coordinate f of every user (item) is then one contiguous row.
        Pt, Qt = self.user_factors.T.contiguous(), self.item_factors.T.contiguous()
        pred = (Pt[:, users] * Qt[:, items]).sum(0)

        # Users: Q fixed, so the cache S^q and the gathered q_if hold for the whole sweep.
        cache = Qt @ (c.unsqueeze(1) * Qt.T)
        for f in range(len(Pt)):
            q_f, p_old = Qt[f, items], Pt[f, users]
            pred_without_f = pred - p_old * q_f
            numerator = segment_sum(users, (w - w_minus_c * pred_without_f) * q_f, self.n_users)
            numerator -= cache[f] @ Pt - cache[f, f] * Pt[f]
            denominator = segment_sum(users, w_minus_c * q_f**2, self.n_users) + cache[f, f] + self.reg
            Pt[f] = numerator / denominator
            pred = pred_without_f + Pt[f, users] * q_f

        # Items: P fixed; the missing-data term of item i is c_i q_i^T S^p q_i.
        cache = Pt @ Pt.T
        for f in range(len(Qt)):
            p_f, q_old = Pt[f, users], Qt[f, items]
            pred_without_f = pred - p_f * q_old
            numerator = segment_sum(items, (w - w_minus_c * pred_without_f) * p_f, self.n_items)
            numerator -= c * (cache[f] @ Qt - cache[f, f] * Qt[f])
            denominator = segment_sum(items, w_minus_c * p_f**2, self.n_items) + c * cache[f, f] + self.reg
            Qt[f] = numerator / denominator
            pred = pred_without_f + p_f * Qt[f, items]
        self.user_factors.copy_(Pt.T)
        self.item_factors.copy_(Qt.T)
        return self.objective(pred, c[items], c)

    def objective(self, pred: torch.Tensor, c_observed: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """L above, with the missing-data sum taken over all pairs via the cache and corrected on R."""
        P, Q = self.user_factors, self.item_factors
        observed = (self.observed_weight * (1 - pred) ** 2 - c_observed * pred**2).sum()
        everything = ((P @ (Q.T @ (c.unsqueeze(1) * Q))) * P).sum()
        return observed + everything + self.reg * (P.pow(2).sum() + Q.pow(2).sum())

    def score_all(self, users: torch.Tensor, n_items: int) -> torch.Tensor:
        return self.user_factors[users] @ self.item_factors.T


def check_eals_config(config: Any) -> None:
    check_positive_ints(config, ("factors", "iterations"))
    for key, low, strict in (("reg", 0, True), ("c0", 0, False), ("alpha", 0, False), ("init_std", 0, True)):
        value = config.get(key)
        ok = not isinstance(value, bool) and isinstance(value, int | float)
        if not ok or value < low or (strict and value == low):
            raise ConfigError(f"model.{key} must be a number {'>' if strict else '>='} {low}, got {value!r}")
    weight = config.get("observed_weight")
    if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
        raise ConfigError(f"model.observed_weight must be a number > 0, got {weight!r}")


@register_model("eals", check=check_eals_config)
def build_eals(config: Any, context: ModelContext) -> EALS:
    return EALS(
        context.train_matrix,
        factors=config.factors,
        reg=float(config.reg),
        c0=float(config.c0),
        alpha=float(config.alpha),
        observed_weight=float(config.observed_weight),
        iterations=config.iterations,
        init_std=float(config.init_std),
    )
