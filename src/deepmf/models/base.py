"""The contract every model meets, and the registry that maps ``model=<name>`` to a class."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from deepmf.data.matrix import SparseRows
from deepmf.errors import ConfigError

#: Scores are cosines clamped into (0, 1) so that log(y) and log(1 - y) stay finite (Eq. 13).
SCORE_MIN, SCORE_MAX = 1e-6, 1.0 - 1e-6
#: Items per item-tower call when precomputing evaluation vectors (bounds the first layer's output).
EVAL_TOWER_CHUNK = 8192

#: (user, item) pairs per ``forward`` call when a model without a faster path scores many candidates:
#: bounds the activations of pairwise models (e.g. NeuMF's MLP) whatever the evaluation chunk size.
PAIRS_PER_FORWARD = 1 << 18


@dataclass(frozen=True)
class ModelContext:
    """What a model may know about the data: sizes and the training matrix Y, nothing held out."""

    n_users: int
    n_items: int
    train_matrix: SparseRows
    max_rating: float
    #: Weights of component models trained earlier in the same run (see ``ModelSpec.components``),
    #: by component name; empty unless the model asks for components.
    pretrained: Mapping[str, dict[str, torch.Tensor]] = field(default_factory=dict)


class Recommender(nn.Module):
    """A model scores (user, item) pairs; evaluation asks for scores of many items per user.

    ``forward(users, items)`` returns one score per pair (training). ``prepare_evaluation()`` is called
    once before an evaluation pass so that per-item work (e.g. the item tower) is done once, then
    ``score_items(users, items)`` scores a ``(B, C)`` candidate matrix and ``score_all(users)`` all items.
    """

    def prepare_evaluation(self) -> None:
        """Precompute anything shared by all users of an evaluation pass."""

    def score_items(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        # Pairwise fallback, in slices of users so that at most PAIRS_PER_FORWARD pairs are in flight.
        batch, candidates = items.shape
        step = max(1, PAIRS_PER_FORWARD // candidates)
        return torch.cat(
            [
                self(users[s : s + step].repeat_interleave(candidates), items[s : s + step].reshape(-1))
                for s in range(0, batch, step)
            ]
        ).view(batch, candidates)

    def score_all(self, users: torch.Tensor, n_items: int) -> torch.Tensor:
        all_items = torch.arange(n_items, device=users.device).expand(len(users), n_items)
        return self.score_items(users, all_items)

    def score_items_and_all(
        self, users: torch.Tensor, items: torch.Tensor, n_items: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(score_items(users, items), score_all(users, n_items))``; models may share work between them."""
        return self.score_items(users, items), self.score_all(users, n_items)


class CosineTwoTower(Recommender):
    """Users and items mapped to vectors by separate towers and scored by clamped cosine (Eq. 8, 13)."""

    def user_vectors(self, users: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def item_vectors(self, items: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        # Each distinct user / item in the batch goes through its tower once.
        unique_users, user_index = torch.unique(users, return_inverse=True)
        unique_items, item_index = torch.unique(items, return_inverse=True)
        p = F.normalize(self.user_vectors(unique_users), dim=-1)[user_index]
        q = F.normalize(self.item_vectors(unique_items), dim=-1)[item_index]
        return (p * q).sum(-1).clamp(SCORE_MIN, SCORE_MAX)

    def prepare_evaluation(self) -> None:
        # In chunks: the item tower's first layer is (chunk x width) floats, not (n_items x width).
        items = torch.arange(self.n_items, device=self.device_hint())
        self._eval_items = torch.cat(
            [F.normalize(self.item_vectors(chunk), dim=-1) for chunk in items.split(EVAL_TOWER_CHUNK)]
        )

    def device_hint(self) -> torch.device:
        return next(self.parameters()).device

    def _normalized_users(self, users: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.user_vectors(users), dim=-1)

    def score_items(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        p = self._normalized_users(users)
        q = self._eval_items[items]
        return torch.einsum("bd,bcd->bc", p, q).clamp(SCORE_MIN, SCORE_MAX)

    def score_all(self, users: torch.Tensor, n_items: int) -> torch.Tensor:
        return (self._normalized_users(users) @ self._eval_items.T).clamp(SCORE_MIN, SCORE_MAX)

    def score_items_and_all(
        self, users: torch.Tensor, items: torch.Tensor, n_items: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # The user tower runs once for both the sampled and the full ranking.
        p = self._normalized_users(users)
        sampled = torch.einsum("bd,bcd->bc", p, self._eval_items[items]).clamp(SCORE_MIN, SCORE_MAX)
        return sampled, (p @ self._eval_items.T).clamp(SCORE_MIN, SCORE_MAX)


ModelBuilder = Callable[[Any, ModelContext], Recommender]
ConfigCheck = Callable[[Any], None]
#: ``components(model_config) -> {name: run-config overrides}``: models to train first, in the same run.
Components = Callable[[Any], dict[str, dict[str, Any]]]


def no_components(config: Any) -> dict[str, dict[str, Any]]:
    """Most models are trained from scratch."""
    return {}


@dataclass(frozen=True)
class ModelSpec:
    """How to build a registered model, and how to check its config before any data is loaded.

    ``components`` names models the run trains first (each a full run with the given config overrides,
    selected on validation); their best weights reach the builder as ``context.pretrained[name]``.
    """

    build: ModelBuilder
    check: ConfigCheck
    components: Components = no_components


MODELS: dict[str, ModelSpec] = {}


def no_check(config: Any) -> None:
    """For models without options to validate."""


def register_model(
    name: str, check: ConfigCheck = no_check, components: Components = no_components
) -> Callable[[ModelBuilder], ModelBuilder]:
    """Register ``builder(config, context) -> Recommender`` under ``name`` (``model.name`` in configs)."""

    def decorate(builder: ModelBuilder) -> ModelBuilder:
        MODELS[name] = ModelSpec(builder, check, components)
        return builder

    return decorate


def model_spec(config: Any) -> ModelSpec:
    name = config.get("name")
    if name not in MODELS:
        raise ConfigError(f"model.name must be one of {sorted(MODELS)}, got {name!r}")
    return MODELS[name]


def check_model_config(config: Any) -> None:
    """Fail on an unknown model or invalid model options, naming the key."""
    model_spec(config).check(config)


def build_model(config: Any, context: ModelContext) -> Recommender:
    spec = model_spec(config)
    spec.check(config)
    return spec.build(config, context)


def check_positive_ints(config: Any, keys: tuple[str, ...]) -> None:
    """Raise ConfigError naming the first of ``model.<key>`` that is not an integer >= 1."""
    for key in keys:
        value = config.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"model.{key} must be an integer >= 1, got {value!r}")
