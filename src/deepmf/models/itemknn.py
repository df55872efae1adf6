"""ItemKNN (the paper's Table 2 baseline): item-based CF with shrunk cosine similarity, top-k neighbours."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from deepmf.data.matrix import SparseRows, bag_of
from deepmf.errors import ConfigError
from deepmf.models.base import ModelContext, check_positive_ints, register_model
from deepmf.models.fitted import FittedRecommender

#: Similarity columns made dense at a time while selecting neighbours (bounds memory to ~64 MB).
SIMILARITY_VALUES_PER_BLOCK = 1 << 23


def top_k_per_row(values: np.ndarray, k: int) -> np.ndarray:
    """``(n_rows, k)`` column indices of each row's ``k`` largest values: by value, ties by column index
    (the smaller first), so the choice never depends on the partition order of a NumPy version.

    Linear in the row length: the ``k``-th largest value of each row is the threshold; every larger value
    is taken, and of the values equal to it, those in the first columns fill the remaining places.
    """
    n = values.shape[1]
    threshold = np.partition(values, n - k, axis=1)[:, n - k : n - k + 1]
    above, at = values > threshold, values == threshold
    taken = above | (at & (np.cumsum(at, axis=1) <= k - above.sum(axis=1, keepdims=True)))
    columns = np.nonzero(taken)[1].reshape(-1, k)  # k per row, ascending
    by_value = np.argsort(-np.take_along_axis(values, columns, axis=1), axis=1, kind="stable")
    return np.take_along_axis(columns, by_value, axis=1)


def cosine_neighbours(interactions: sp.csr_matrix, topk: int, shrink: float) -> tuple[np.ndarray, np.ndarray]:
    """The ``topk`` most similar items of every item, by shrunk cosine on the columns of Y.

    ``sim(i, j) = |U_i & U_j| / (sqrt(|U_i| |U_j|) + shrink)`` (U_i: users of item i; the shrink term
    damps similarities supported by few co-occurrences). An item is never its own neighbour; of items
    equally similar at the cut, those with the smaller ids are the neighbours (:func:`top_k_per_row`).
    Returns ``(neighbours, weights)``, each ``(n_items, topk)``: row j holds the items i whose
    similarity contributes to the score of j, the most similar first.
    """
    n_items = interactions.shape[1]
    topk = min(topk, n_items - 1)
    gram = (interactions.T @ interactions).tocsr()  # symmetric: row j = co-occurrences with item j
    norms = np.sqrt(gram.diagonal())
    neighbours = np.zeros((n_items, topk), dtype=np.int64)
    weights = np.zeros((n_items, topk), dtype=np.float32)
    block = max(1, SIMILARITY_VALUES_PER_BLOCK // n_items)
    for start in range(0, n_items, block):
        stop = min(start + block, n_items)
        # Row j of this block: similarity of every item to target item j.
        sims = gram[start:stop].toarray()
        sims /= np.outer(norms[start:stop], norms) + shrink + 1e-12
        sims[np.arange(stop - start), np.arange(start, stop)] = -np.inf  # never its own neighbour
        top = top_k_per_row(sims, topk)
        neighbours[start:stop] = top
        weights[start:stop] = np.take_along_axis(sims, top, axis=1)
    return neighbours, weights


class ItemKNN(FittedRecommender):
    """``score(u, j) = sum of sim(i, j)`` over the user's training items i among j's top-k neighbours."""

    def __init__(self, train_matrix: SparseRows, topk: int, shrink: float) -> None:
        super().__init__(train_matrix)
        self.topk, self.shrink = min(topk, self.n_items - 1), shrink
        self.register_buffer("neighbours", torch.zeros(self.n_items, self.topk, dtype=torch.int64))
        self.register_buffer("weights", torch.zeros(self.n_items, self.topk))

    def fit_step(self) -> None:
        neighbours, weights = cosine_neighbours(self.seen_csr(), self.topk, self.shrink)
        self.neighbours.copy_(torch.as_tensor(neighbours))
        self.weights.copy_(torch.as_tensor(weights))

    def prepare_evaluation(self) -> None:
        # W^T as a sparse (target j, neighbour i) matrix, so scores = (W^T @ Y[users]^T)^T.
        targets = torch.arange(self.n_items, device=self.neighbours.device).repeat_interleave(self.topk)
        index = torch.stack([targets, self.neighbours.reshape(-1)])
        shape = (self.n_items, self.n_items)
        self._similarity_t = torch.sparse_coo_tensor(
            index, self.weights.reshape(-1), shape, check_invariants=False
        ).coalesce()

    def score_all(self, users: torch.Tensor, n_items: int) -> torch.Tensor:
        indices, offsets, _ = self.seen.gather(users)
        rows = torch.zeros(len(users), self.n_items, device=users.device)
        rows[bag_of(offsets, len(indices)), indices] = 1.0
        return torch.sparse.mm(self._similarity_t, rows.T).T


def check_itemknn_config(config: Any) -> None:
    check_positive_ints(config, ("topk",))
    shrink = config.get("shrink")
    if isinstance(shrink, bool) or not isinstance(shrink, int | float) or shrink < 0:
        raise ConfigError(f"model.shrink must be a number >= 0, got {shrink!r}")


@register_model("itemknn", check=check_itemknn_config)
def build_itemknn(config: Any, context: ModelContext) -> ItemKNN:
    return ItemKNN(context.train_matrix, config.topk, float(config.shrink))
