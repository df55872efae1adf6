"""The paper's losses: binary cross entropy (Eq. 11) and normalized cross entropy (Eq. 12)."""

from __future__ import annotations

from typing import Any

import torch

from deepmf.errors import ConfigError

#: The paper's two losses (``loss=``).
LOSSES = ("nce", "ce")


class PointwiseLoss:
    """Cross entropy between predicted scores in (0, 1) and a target derived from the rating.

    ``ce``: target 1 for an observed rating, 0 for a sampled negative (Eq. 11).
    ``nce``: target ``rating / max_rating`` (Eq. 12), so a 5-star rating counts more than a 1-star one.
    The mean over the batch is used; Adam is invariant to that constant factor (the paper's code sums).
    """

    def __init__(self, name: str, max_rating: float) -> None:
        if name not in LOSSES:
            raise ConfigError(f"loss.name must be 'nce' or 'ce', got {name!r}")
        if not max_rating > 0:
            raise ConfigError(f"loss max_rating must be > 0, got {max_rating!r}")
        self.name = name
        self.max_rating = float(max_rating)

    def targets(self, ratings: torch.Tensor) -> torch.Tensor:
        if self.name == "nce":
            return ratings / self.max_rating
        return (ratings > 0).to(ratings.dtype)

    def per_pair(self, scores: torch.Tensor, ratings: torch.Tensor) -> torch.Tensor:
        """The cross entropy of each pair (what ``__call__`` averages)."""
        target = self.targets(ratings)
        return -(target * torch.log(scores) + (1 - target) * torch.log1p(-scores))

    def __call__(self, scores: torch.Tensor, ratings: torch.Tensor) -> torch.Tensor:
        return self.per_pair(scores, ratings).mean()


def check_loss_config(config: Any) -> None:
    """``loss.name`` and ``loss.max_rating``, before any data is read."""
    if config.name not in LOSSES:
        raise ConfigError(f"loss must be nce or ce, got {config.name!r}")
    max_rating = config.get("max_rating")
    if max_rating is not None and (
        isinstance(max_rating, bool) or not isinstance(max_rating, int | float) or not max_rating > 0
    ):
        raise ConfigError(f"loss.max_rating must be null or a number > 0, got {max_rating!r}")


def loss_max_rating(config: Any, data_max_rating: float) -> float:
    """``max(R)`` of the nce target ``rating / max(R)`` (Eq. 12): ``loss.max_rating``, or the data's."""
    chosen = config.get("max_rating")
    if chosen is None:
        return data_max_rating
    if config.name == "nce" and not chosen >= data_max_rating:
        raise ConfigError(
            f"loss.max_rating={chosen} is below the largest rating in the data ({data_max_rating}): "
            "nce targets rating / max_rating would leave [0, 1]; leave it null to use the data's"
        )
    return float(chosen)
