"""Ranks of held-out items under the sampled protocol and under full ranking."""

from __future__ import annotations

import torch

from deepmf.evaluation.metrics import pessimistic_rank
from deepmf.models.base import Recommender


@torch.no_grad()
def rank_batch(
    model: Recommender, batch: dict[str, torch.Tensor], n_items: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(sampled_ranks, full_ranks)`` for one chunk of users.

    Sampled: the target against the user's fixed evaluation negatives (paper protocol); padding (-1)
    and copies of the target among them are ignored.
    Full: the target against every item the user never interacted with (all known items masked).
    ``model.prepare_evaluation()`` must have been called for this pass.
    """
    users, targets, negatives = batch["users"], batch["targets"], batch["negatives"]
    # Ragged candidate lists are padded with -1: a padded slot never competes, and neither does a copy
    # of the target itself (some published NCF negative lists contain the user's test item).
    competes = (negatives >= 0) & (negatives != targets.unsqueeze(1))
    candidates = torch.cat([targets.unsqueeze(1), negatives.clamp(min=0)], dim=1)
    # A NaN score must never win a comparison: it becomes -inf, which ties (pessimistically) with -inf.
    sampled_scores, scores = model.score_items_and_all(users, candidates, n_items)
    sampled_scores = torch.nan_to_num(sampled_scores.float(), nan=-torch.inf)
    sampled = pessimistic_rank(sampled_scores[:, 0], sampled_scores[:, 1:], competes)

    scores = torch.nan_to_num(scores.float(), nan=-torch.inf)
    target_scores = scores.gather(1, targets.unsqueeze(1)).squeeze(1)
    # Known items (train, validation and test, the target included) are not competitors.
    scores[batch["known_rows"], batch["known_items"]] = float("-inf")
    full = pessimistic_rank(target_scores, scores)
    return sampled, full
