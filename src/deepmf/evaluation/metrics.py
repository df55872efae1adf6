"""HR@K and NDCG@K from pessimistic ranks.

A rank is the number of competing items scored at least as high as the target (0 = first). Counting
ties against the target means a collapsed model whose scores are all equal ranks the target last, not
first: the pitfall that made public DMF code report HR = NDCG = 1.0.
"""

from __future__ import annotations

import torch


def pessimistic_rank(
    target_scores: torch.Tensor, competitor_scores: torch.Tensor, competes: torch.Tensor | None = None
) -> torch.Tensor:
    """``(B,)`` ranks: how many of each row's competitors score ``>=`` that row's target.

    ``competes`` (``(B, C)`` bool) marks the columns that are real competitors; others never count.
    """
    beats = competitor_scores >= target_scores.unsqueeze(-1)
    if competes is not None:
        beats &= competes
    return beats.sum(-1)


def hit_rate(ranks: torch.Tensor, k: int) -> float:
    """Fraction of users whose target is in the top ``k``."""
    return (ranks < k).double().mean().item()


def ndcg(ranks: torch.Tensor, k: int) -> float:
    """Mean of ``1 / log2(rank + 2)`` over users whose target is in the top ``k`` (0 for the others)."""
    gains = 1.0 / torch.log2(ranks.double() + 2.0)
    return torch.where(ranks < k, gains, torch.zeros_like(gains)).mean().item()


def ranking_metrics(ranks: torch.Tensor, ks: list[int], prefix: str) -> dict[str, float]:
    """``{prefix}hr@k`` and ``{prefix}ndcg@k`` for every ``k``."""
    metrics: dict[str, float] = {}
    for k in ks:
        metrics[f"{prefix}hr@{k}"] = hit_rate(ranks, k)
        metrics[f"{prefix}ndcg@{k}"] = ndcg(ranks, k)
    return metrics
