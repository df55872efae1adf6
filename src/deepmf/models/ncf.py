"""NCF (He et al., WWW 2017): GMF, MLP and their fusion NeuMF, trained with BCE on sampled negatives.

All three are ``sigmoid(h^T phi(u, i))`` where ``phi`` concatenates one or two branches:
GMF ``p_u * q_i`` (their Eq. 9), MLP ``ReLU`` layers over ``[p_u, q_i]`` (Eq. 10) and NeuMF both, each
with its own embeddings (Eq. 11-12). NeuMF-p (``model.pretrain=true``): the run first trains GMF and
MLP (see :func:`neumf_components`), then NeuMF starts from their weights with
``h = [alpha h_gmf, (1 - alpha) h_mlp]`` (Eq. 13).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from deepmf.errors import ConfigError
from deepmf.models.base import (
    PAIRS_PER_FORWARD,
    SCORE_MAX,
    SCORE_MIN,
    ModelContext,
    Recommender,
    register_model,
)


def embedding(count: int, dim: int, init_std: float) -> nn.Embedding:
    """An embedding table drawn from N(0, init_std) (NCF: 0.01). The NCF paper says every parameter starts
    so; its released Keras code draws only the embeddings so and leaves the dense layers at Keras'
    defaults, as the dense layers here keep PyTorch's."""
    table = nn.Embedding(count, dim)
    nn.init.normal_(table.weight, std=init_std)
    return table


class GMFBranch(nn.Module):
    """Generalized matrix factorisation: the element-wise product of user and item embeddings."""

    def __init__(self, n_users: int, n_items: int, factors: int, init_std: float) -> None:
        super().__init__()
        self.width = factors
        self.user_embedding = embedding(n_users, factors, init_std)
        self.item_embedding = embedding(n_items, factors, init_std)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return self.user_embedding(users) * self.item_embedding(items)

    def grid_logits(self, users: torch.Tensor, items: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """``weight^T (p_u * q_i)`` for every user of ``users`` and item of ``items`` (1-D: the same items
        for every user; 2-D: a row per user), as ``(p_u * weight) . q_i``: one matrix product."""
        scaled = self.user_embedding(users) * weight
        if items.dim() == 1:
            return scaled @ self.item_embedding(items).T
        return torch.einsum("bd,bcd->bc", scaled, self.item_embedding(items))


class MLPBranch(nn.Module):
    """``layers[0] / 2``-wide user and item embeddings, concatenated, through ReLU layers ``layers[1:]``."""

    def __init__(self, n_users: int, n_items: int, layers: list[int], init_std: float) -> None:
        super().__init__()
        self.width = layers[-1]
        self.user_embedding = embedding(n_users, layers[0] // 2, init_std)
        self.item_embedding = embedding(n_items, layers[0] // 2, init_std)
        modules: list[nn.Module] = []
        for width_in, width_out in zip(layers[:-1], layers[1:]):
            modules += [nn.Linear(width_in, width_out), nn.ReLU()]
        self.tower = nn.Sequential(*modules)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return self.tower(torch.cat([self.user_embedding(users), self.item_embedding(items)], dim=-1))

    def grid_logits(self, users: torch.Tensor, items: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """``weight^T tower([p_u, q_i])`` for every user and item (``items`` as in GMF's), with the first
        layer split as ``W [p; q] + b = (W_p p + b) + W_q q``: its per-user and per-item halves are
        computed once each, not once per pair."""
        first: nn.Linear = self.tower[0]  # type: ignore[assignment]
        half = self.user_embedding.embedding_dim
        user_part = self.user_embedding(users) @ first.weight[:, :half].T + first.bias  # (b, width)
        item_part = self.item_embedding(items) @ first.weight[:, half:].T  # (c, width) or (b, c, width)
        if items.dim() == 1:
            item_part = item_part.unsqueeze(0)
        hidden = self.tower[1:](user_part.unsqueeze(1) + item_part)  # (b, c, layers[-1])
        return hidden @ weight


class NCF(Recommender):
    """``sigmoid(h^T [branch(u, i) for each branch])``, clamped into (0, 1) like every score here."""

    def __init__(self, branches: dict[str, nn.Module]) -> None:
        super().__init__()
        self.branches = nn.ModuleDict(branches)
        self.predict = nn.Linear(sum(branch.width for branch in branches.values()), 1)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        features = torch.cat([branch(users, items) for branch in self.branches.values()], dim=-1)
        return torch.sigmoid(self.predict(features).squeeze(-1)).clamp(SCORE_MIN, SCORE_MAX)

    def grid_scores(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` for every user of ``users`` and item of ``items`` (1-D: shared; 2-D: a row
        per user): ``h^T [branches]`` is the sum of each branch's part of ``h``, so every branch scores
        the grid its own cheapest way (the same values up to float rounding)."""
        logits = self.predict.bias
        weights = self.predict.weight[0].split([branch.width for branch in self.branches.values()])
        for branch, weight in zip(self.branches.values(), weights):
            logits = logits + branch.grid_logits(users, items, weight)
        return torch.sigmoid(logits).clamp(SCORE_MIN, SCORE_MAX)

    def score_items(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return self._in_slices(users, items, items.shape[1])

    def score_all(self, users: torch.Tensor, n_items: int) -> torch.Tensor:
        return self._in_slices(users, torch.arange(n_items, device=users.device), n_items)

    def _in_slices(self, users: torch.Tensor, items: torch.Tensor, per_user: int) -> torch.Tensor:
        # Slices of users: at most PAIRS_PER_FORWARD pairs (each a hidden vector of the MLP) at a time.
        step = max(1, PAIRS_PER_FORWARD // max(per_user, 1))
        return torch.cat(
            [
                self.grid_scores(users[s : s + step], items if items.dim() == 1 else items[s : s + step])
                for s in range(0, len(users), step)
            ]
        )

    def load_pretrained(self, pretrained: dict[str, dict[str, torch.Tensor]], alpha: float) -> None:
        """Eq. 13: copy each branch from its single-branch model; ``h`` is their weighted concatenation."""
        shares = {"gmf": alpha, "mlp": 1.0 - alpha}
        weights, bias = [], torch.zeros(1)
        for name, branch in self.branches.items():
            state = pretrained[name]
            prefix = f"branches.{name}."
            branch.load_state_dict({k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)})
            weights.append(shares[name] * state["predict.weight"])
            bias = bias + shares[name] * state["predict.bias"]
        with torch.no_grad():
            self.predict.weight.copy_(torch.cat(weights, dim=1))
            self.predict.bias.copy_(bias)


def gmf_branch(config: Any, context: ModelContext) -> GMFBranch:
    return GMFBranch(context.n_users, context.n_items, config.factors, config.init_std)


def mlp_branch(config: Any, context: ModelContext) -> MLPBranch:
    return MLPBranch(context.n_users, context.n_items, list(config.mlp_layers), config.init_std)


def check_ncf_config(config: Any, uses: tuple[str, ...]) -> None:
    if "gmf" in uses:
        factors = config.get("factors")
        if isinstance(factors, bool) or not isinstance(factors, int) or factors < 1:
            raise ConfigError(f"model.factors must be an integer >= 1, got {factors!r}")
    if "mlp" in uses:
        layers = list(config.get("mlp_layers") or [])
        if len(layers) < 2 or any(not isinstance(w, int) or w < 1 for w in layers) or layers[0] % 2:
            raise ConfigError(
                f"model.mlp_layers must list >= 2 positive integers, the first even, got {layers!r}"
            )
    if not config.get("init_std", 0) > 0:
        raise ConfigError(f"model.init_std must be > 0, got {config.get('init_std')!r}")


@register_model("gmf", check=lambda config: check_ncf_config(config, ("gmf",)))
def build_gmf(config: Any, context: ModelContext) -> NCF:
    return NCF({"gmf": gmf_branch(config, context)})


@register_model("mlp", check=lambda config: check_ncf_config(config, ("mlp",)))
def build_mlp(config: Any, context: ModelContext) -> NCF:
    return NCF({"mlp": mlp_branch(config, context)})


def check_neumf_config(config: Any) -> None:
    check_ncf_config(config, ("gmf", "mlp"))
    if not 0 <= config.get("alpha", -1) <= 1:
        raise ConfigError(f"model.alpha must be in [0, 1], got {config.get('alpha')!r}")


def neumf_components(config: Any) -> dict[str, dict[str, Any]]:
    """NeuMF-p: train GMF and MLP first, in the same run, with NeuMF's branch sizes.

    Each is a full run (same data, seed, trainer; Adam, as in the NCF paper, with ``model.pretrain_lr`` as
    its learning rate), selected on validation; its best weights initialise NeuMF. Plain NeuMF needs no
    components. ``optim.name`` applies to NeuMF's own fine-tuning only.
    """
    if not config.get("pretrain"):
        return {}
    shared = {"init_std": config.init_std, "factors": config.factors, "mlp_layers": list(config.mlp_layers)}
    optim = {"name": "adam", **({"lr": config.pretrain_lr} if config.get("pretrain_lr") else {})}
    return {name: {"model": {"name": name, **shared}, "optim": optim} for name in ("gmf", "mlp")}


@register_model("neumf", check=check_neumf_config, components=neumf_components)
def build_neumf(config: Any, context: ModelContext) -> NCF:
    model = NCF({"gmf": gmf_branch(config, context), "mlp": mlp_branch(config, context)})
    if config.get("pretrain"):
        model.load_pretrained(dict(context.pretrained), float(config.alpha))
    return model
