"""DMF's first layer ``Y_rows @ W1`` in forms whose shapes never depend on the data (the fast path).

- ``dense``: Y's rows as a dense matrix on the device; a step gathers its rows and multiplies (one GEMM
  forward, one for ``dW1``). Exact; expected to be the fastest form on a GPU where Y fits (ML-1M:
  2 x 90 MB), not yet measured there (``bash benchmarks/gpu_check.sh`` times every form).
- ``sparse_padded``: each row's non-zeros padded to the longest row's count with zero-valued entries, a
  fixed-width weighted ``embedding_bag``: exact, memory ``n_rows x longest_row`` per tower.
- ``bag``: today's ragged embedding-bag with the fast backward of :mod:`deepmf.models.sparse_layers`
  (the CPU default); its gather reads the batch's non-zero count back to the host, so it cannot be
  compiled as one graph or captured.

:func:`choose_first_layer` picks one (``fast_path.first_layer=auto``) by a documented rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F

from deepmf.data.matrix import SparseRows
from deepmf.errors import ConfigError
from deepmf.models.base import SCORE_MAX, SCORE_MIN
from deepmf.models.dmf import DMF, Tower
from deepmf.models.weight_blocks import to_matrix

#: ``fast_path.first_layer`` values.
FIRST_LAYERS = ("auto", "dense", "sparse_padded", "bag")
#: Forms with static shapes and no host reads (compilable, capturable).
STATIC_FORMS = ("dense", "sparse_padded")

FLOAT_BYTES = 4


def dense_bytes(model: DMF) -> int:
    """Memory of Y as dense rows for both towers (user rows and item rows), float32."""
    return 2 * model.n_users * model.n_items * FLOAT_BYTES


def choose_first_layer(
    requested: str, model: DMF, device: torch.device, compiled: bool, budget_mb: float
) -> str:
    """The first-layer form for ``fast_path.first_layer=requested``.

    ``auto``: on CUDA, or when the step is compiled, ``dense`` if Y's dense rows (both towers) fit in
    ``budget_mb``, else ``sparse_padded``; on CPU without compilation ``bag`` (today's CPU step, the
    fastest of the forms on this CPU: docs/benchmarks/compiled_step.md). ``bag`` with a compiled step
    is refused.
    """
    if requested not in FIRST_LAYERS:
        raise ConfigError(
            f"fast_path.first_layer must be one of {', '.join(FIRST_LAYERS)}, got {requested!r}"
        )
    if requested == "auto":
        if device.type != "cuda" and not compiled:
            return "bag"
        return "dense" if dense_bytes(model) <= budget_mb * 2**20 else "sparse_padded"
    if requested == "bag" and compiled:
        raise ConfigError(
            "fast_path.first_layer=bag has data-dependent shapes and host reads: it cannot be compiled or "
            "captured; use fast_path.first_layer=dense or sparse_padded, or fast_path.compile=false"
        )
    return requested


def dense_rows(rows: SparseRows) -> torch.Tensor:
    """``rows`` as a dense ``n_rows x n_columns`` float32 matrix on their device."""
    return rows.dense()


def padded_rows(rows: SparseRows) -> tuple[torch.Tensor, torch.Tensor]:
    """``(indices, values)``, each ``n_rows x longest_row``: row ``r``'s non-zeros, then zero-valued
    entries, which add nothing to ``row @ W1`` nor to its gradient. A padding entry's column is its slot
    modulo ``n_columns``, not one shared column: the backward's scattered adds of those zeros then spread
    over many rows of ``W1`` instead of all contending for one (GPU atomics)."""
    lengths = rows.indptr[1:] - rows.indptr[:-1]
    width = max(1, int(lengths.max())) if rows.n_rows else 1
    slot = torch.arange(width, device=lengths.device)
    present = slot < lengths[:, None]
    positions = (rows.indptr[:-1, None] + slot).clamp_(max=max(len(rows.indices) - 1, 0))
    if len(rows.indices) == 0:
        zeros = torch.zeros(rows.n_rows, width, device=lengths.device)
        return zeros.long(), zeros
    indices = torch.where(present, rows.indices[positions], slot % max(rows.n_columns, 1))
    values = torch.where(present, rows.values[positions], 0.0)
    return indices, values


@dataclass
class TowerRows:
    """One tower's rows of Y in one form; :meth:`first_layer` computes ``Y[rows] @ W1``."""

    form: str
    sparse: SparseRows
    dense: torch.Tensor | None = None
    padded_indices: torch.Tensor | None = None
    padded_values: torch.Tensor | None = None

    @classmethod
    def build(cls, form: str, sparse: SparseRows) -> TowerRows:
        if form == "dense":
            return cls(form, sparse, dense=dense_rows(sparse))
        if form == "sparse_padded":
            indices, values = padded_rows(sparse)
            return cls(form, sparse, padded_indices=indices, padded_values=values)
        if form == "bag":
            return cls(form, sparse)
        raise ValueError(f"unknown first-layer form {form!r}")

    def output(self, tower: Tower, rows: torch.Tensor) -> torch.Tensor:
        """The tower's output for each of ``rows``."""
        if self.form == "bag":
            return tower(*self.sparse.gather(rows))
        weight = to_matrix(tower.first)  # a view with one block, else a copy autograd sends back to them
        if self.form == "dense":
            assert self.dense is not None
            first = self.dense.index_select(0, rows) @ weight
        else:
            assert self.padded_indices is not None and self.padded_values is not None
            first = F.embedding_bag(
                self.padded_indices.index_select(0, rows),
                weight,
                mode="sum",
                per_sample_weights=self.padded_values.index_select(0, rows),
            )
        return tower.mlp(first)


@dataclass
class StaticRows:
    """Both towers' rows of Y, in one form, for :func:`pair_scores`."""

    form: str
    users: TowerRows
    items: TowerRows

    @classmethod
    def build(cls, form: str, model: DMF) -> StaticRows:
        return cls(
            form,
            TowerRows.build(form, model._rows("user_rows", model.n_items)),
            TowerRows.build(form, model._rows("item_rows", model.n_users)),
        )


def static_distinct(ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``torch.unique(ids, return_inverse=True)`` with static shapes: the distinct ids, ascending, padded
    with 0 to ``len(ids)``, and each id's position among them. No host read (``torch.unique``'s output
    size is one)."""
    ordered, order = torch.sort(ids)
    first = torch.ones_like(ordered, dtype=torch.bool)
    first[1:] = ordered[1:] != ordered[:-1]
    group = torch.cumsum(first, 0) - 1
    inverse = torch.empty_like(group).scatter_(0, order, group)
    return torch.zeros_like(ids).scatter_(0, group, ordered), inverse


def pair_scores(model: DMF, rows: StaticRows, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
    """DMF's clamped cosine for each (user, item) pair, computed as ``model(users, items)`` computes it:
    each distinct user and item through its tower once (here with :func:`static_distinct`, the padding
    rows computed and never read), so the gradients are summed in the same order, not only the same up to
    rounding (which Adam's ``eps`` would magnify where a gradient is rounding noise around 0)."""
    # bag: the ragged form reads sizes back anyway, and padding would add rows of row 0's length.
    distinct = partial(torch.unique, return_inverse=True) if rows.form == "bag" else static_distinct
    distinct_users, user_index = distinct(users)
    distinct_items, item_index = distinct(items)
    p = F.normalize(rows.users.output(model.user_tower, distinct_users), dim=-1)[user_index]
    q = F.normalize(rows.items.output(model.item_tower, distinct_items), dim=-1)[item_index]
    return (p * q).sum(-1).clamp(SCORE_MIN, SCORE_MAX)
