"""DMF (Xue et al., IJCAI-17): rows and columns of Y through two MLP towers, scored by cosine."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from deepmf.data.matrix import SparseRows
from deepmf.errors import ConfigError
from deepmf.models.base import CosineTwoTower, ModelContext, check_positive_ints, register_model
from deepmf.models.sparse_layers import sparse_rows_matmul, sparse_rows_two_layers
from deepmf.models.weight_blocks import block_width, to_blocks, to_matrix


def tower_widths(layers: int, factors: int, first_width: int) -> list[int]:
    """Layer widths of a tower: ``first_width``, halving, ending at ``factors``.

    ``layers=2, factors=64`` gives ``[first_width, 64]`` (the widely used [512, 64] / [1024, 64]);
    ``layers=1`` is the single linear map ``[factors]`` of DMF-1 (Table 3).
    """
    if layers == 1:
        return [factors]
    hidden = [max(first_width >> k, factors) for k in range(layers - 1)]
    return hidden + [factors]


class Tower(nn.Module):
    """Eq. 5: ``l1 = W1 x`` (linear, no bias), then ``l_i = ReLU(W_i l_{i-1} + b_i)`` up to the output.

    ``x`` is a sparse row of Y, so ``W1 x`` is a weighted embedding-bag over the row's non-zeros: work
    and memory grow with the number of ratings, never with the row's length. ``fast_backward`` computes
    the first two layers' weight gradients with :mod:`deepmf.models.sparse_layers` (the same values up
    to float32 rounding, a few times faster on CPU) and keeps ``W1`` as column blocks of ``block`` columns
    (:mod:`deepmf.models.weight_blocks`; default: :func:`~deepmf.models.weight_blocks.block_width`);
    ``False`` leaves them to autograd through ``F.embedding_bag`` over the plain matrix. Either way the
    state dict holds ``W1`` as the paper's ``input_dim x width`` matrix (:meth:`first_matrix`).
    """

    def __init__(
        self,
        input_dim: int,
        widths: list[int],
        init_std: float,
        fast_backward: bool = True,
        block: int | None = None,
    ) -> None:
        super().__init__()
        self.fast_backward = fast_backward
        if block is not None and (block < 1 or not fast_backward):
            raise ValueError(f"block={block}: blocks need fast_backward and a width >= 1")
        if not fast_backward:
            block = widths[0]
        self.block = block_width(input_dim, widths[0]) if block is None else min(block, widths[0])
        self.first = nn.Parameter(to_blocks(torch.randn(input_dim, widths[0]) * init_std, self.block))
        layers: list[nn.Module] = []
        for width_in, width_out in zip(widths[:-1], widths[1:]):
            linear = nn.Linear(width_in, width_out)
            nn.init.normal_(linear.weight, std=init_std)
            nn.init.zeros_(linear.bias)
            layers += [linear, nn.ReLU()]
        self.mlp = nn.Sequential(*layers)

    def first_matrix(self) -> torch.Tensor:
        """``W1`` as the paper's ``input_dim x width`` matrix (a copy when it is kept in blocks)."""
        return to_matrix(self.first)

    def forward(self, indices: torch.Tensor, offsets: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        if not self.fast_backward:
            weight = self.first_matrix()  # one block: a view, so autograd reaches the parameter
            first = F.embedding_bag(indices, weight, offsets, mode="sum", per_sample_weights=values)
            return self.mlp(first)
        if len(self.mlp) == 0:
            return sparse_rows_matmul(indices, offsets, values, self.first)
        second: nn.Linear = self.mlp[0]  # type: ignore[assignment]
        hidden = sparse_rows_two_layers(indices, offsets, values, self.first, second.weight) + second.bias
        return self.mlp[1:](hidden)

    def _save_to_state_dict(self, destination, prefix, keep_vars):  # type: ignore[no-untyped-def]
        """``first`` is saved as the matrix: a copy of the blocks (a view with one block), so writing into
        a state dict's ``first`` never reaches the parameter, and with ``keep_vars`` it is not the
        ``Parameter`` (no ``.grad``)."""
        super()._save_to_state_dict(destination, prefix, keep_vars)
        first = destination[prefix + "first"]
        destination[prefix + "first"] = to_matrix(first if keep_vars else first.detach())

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing, unexpected, errors):  # type: ignore[no-untyped-def]
        key = prefix + "first"
        saved = state_dict.get(key)
        k, input_dim, block = self.first.shape
        if saved is not None and saved.dim() == 2:
            if saved.shape == (input_dim, k * block):
                state_dict[key] = to_blocks(saved, block)
            else:
                errors.append(
                    f"{key}: W1 is {tuple(saved.shape)} in the state dict, {(input_dim, k * block)} here"
                )
                return
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing, unexpected, errors)


class DMF(CosineTwoTower):
    """Deep Matrix Factorization: user row ``Y_i*`` and item column ``Y_*j`` through their towers.

    ``block`` sets both towers' ``W1`` block width, at most each tower's first width (default: chosen
    per tower for the cache, see :class:`Tower`); it changes the memory layout only: the same values up
    to float32 rounding.
    """

    def __init__(
        self,
        train_matrix: SparseRows,
        user_widths: list[int],
        item_widths: list[int],
        init_std: float,
        fast_backward: bool = True,
        block: int | None = None,
    ) -> None:
        super().__init__()
        if user_widths[-1] != item_widths[-1]:
            raise ConfigError("the user and item towers must end in the same width (model.factors)")
        self.n_users, self.n_items = train_matrix.n_rows, train_matrix.n_columns
        self.user_tower = Tower(self.n_items, user_widths, init_std, fast_backward, block)
        self.item_tower = Tower(self.n_users, item_widths, init_std, fast_backward, block)
        item_rows = train_matrix.transpose()
        # Y lives with the model (and so on its device), but is data, not state: not checkpointed.
        for prefix, rows in (("user_rows", train_matrix), ("item_rows", item_rows)):
            self.register_buffer(f"{prefix}_indptr", rows.indptr, persistent=False)
            self.register_buffer(f"{prefix}_indices", rows.indices, persistent=False)
            self.register_buffer(f"{prefix}_values", rows.values, persistent=False)

    def _rows(self, prefix: str, n_columns: int) -> SparseRows:
        return SparseRows(
            getattr(self, f"{prefix}_indptr"),
            getattr(self, f"{prefix}_indices"),
            getattr(self, f"{prefix}_values"),
            n_columns,
        )

    def user_vectors(self, users: torch.Tensor) -> torch.Tensor:
        return self.user_tower(*self._rows("user_rows", self.n_items).gather(users))

    def item_vectors(self, items: torch.Tensor) -> torch.Tensor:
        return self.item_tower(*self._rows("item_rows", self.n_users).gather(items))


FIRST_WIDTHS = ("user_first_width", "item_first_width")


def check_dmf_config(config: Any) -> None:
    check_positive_ints(config, ("layers", "factors", *FIRST_WIDTHS))
    if (block := config.get("first_layer_block")) is not None:
        check_positive_ints(config, ("first_layer_block",))
        firsts = {tower_widths(config.layers, config.factors, config[key])[0] for key in FIRST_WIDTHS}
        if any(width % min(block, width) for width in firsts):
            raise ConfigError(
                f"model.first_layer_block={block} must divide each tower's first width {sorted(firsts)} "
                "(or be at least as large: one block)"
            )
    if not config.get("init_std", 0) > 0:
        raise ConfigError(f"model.init_std must be > 0, got {config.get('init_std')!r}")


@register_model("dmf", check=check_dmf_config)
def build_dmf(config: Any, context: ModelContext) -> DMF:
    return DMF(
        context.train_matrix,
        user_widths=tower_widths(config.layers, config.factors, config.user_first_width),
        item_widths=tower_widths(config.layers, config.factors, config.item_first_width),
        init_std=config.init_std,
        block=config.get("first_layer_block"),
    )
