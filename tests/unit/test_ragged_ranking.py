"""Ragged candidate lists: -1 padding (and copies of the target) never change a rank."""

import numpy as np
import torch

from deepmf.data.batches import EvalBatches
from deepmf.data.matrix import SparseRows
from deepmf.evaluation.ranking import rank_batch
from deepmf.models.base import Recommender


class TableModel(Recommender):
    """Scores read from a fixed ``(n_users, n_items)`` table."""

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__()
        self.table = table

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return self.table[users, items]


def ragged_case(seed: int = 0, n_users: int = 9, n_items: int = 15):
    rng = np.random.default_rng(seed)
    # Few distinct values: many ties. Item 0 beats everything, so a padded slot read as item 0 would show.
    table = torch.as_tensor(rng.integers(0, 4, size=(n_users, n_items)), dtype=torch.float32)
    table[:, 0] = 10.0
    targets = rng.integers(1, n_items, size=n_users)
    lists = []
    for user in range(n_users):
        others = [i for i in range(1, n_items) if i != targets[user]]
        chosen = rng.choice(others, size=int(rng.integers(0, len(others) + 1)), replace=False).tolist()
        if user % 3 == 0:
            chosen.append(int(targets[user]))  # a copy of the target, as in some NCF lists
        lists.append(chosen)
    return table, targets, lists


def padded(lists: list[list[int]], width: int) -> torch.Tensor:
    out = torch.full((len(lists), width), -1, dtype=torch.int64)
    for row, values in enumerate(lists):
        out[row, : len(values)] = torch.as_tensor(values, dtype=torch.int64)
    return out


def sampled_ranks(model, targets, negatives, n_items, chunk_size):
    known = SparseRows.from_coo(
        np.arange(len(targets)), targets, np.ones(len(targets), np.float32), len(targets), n_items
    )
    batches = EvalBatches(torch.as_tensor(targets), negatives, known, chunk_size=chunk_size)
    model.prepare_evaluation()
    return torch.cat([rank_batch(model, batch, n_items)[0] for batch in batches])


def test_padding_never_changes_a_rank():
    table, targets, lists = ragged_case()
    model = TableModel(table)
    n_items = table.shape[1]
    # Reference: per user, competitors are the listed items other than the target, ties against it.
    expected = torch.as_tensor(
        [
            sum(table[u, i] >= table[u, targets[u]] for i in set(items) - {int(targets[u])})
            for u, items in enumerate(lists)
        ]
    )
    longest = max(len(items) for items in lists)
    for width, chunk_size in ((longest, 9), (longest + 7, 4), (longest + 1, 1)):
        ranks = sampled_ranks(model, targets, padded(lists, width), n_items, chunk_size)
        assert torch.equal(ranks, expected), (width, chunk_size)


def test_a_chunk_of_empty_lists_ranks_first():
    table = torch.ones(2, 5)
    ranks = sampled_ranks(TableModel(table), np.array([1, 2]), torch.full((2, 3), -1), 5, 2)
    assert ranks.tolist() == [0, 0]


def test_evaluation_skips_users_without_a_target():
    known = SparseRows.from_coo(np.array([0]), np.array([1]), np.ones(1, np.float32), 3, 4)
    batches = EvalBatches(
        torch.tensor([1, -1, 2]), torch.zeros(3, 2, dtype=torch.int64), known, 2, users=torch.tensor([0, 2])
    )
    assert len(batches) == 1
    (batch,) = list(batches)
    assert batch["users"].tolist() == [0, 2] and batch["targets"].tolist() == [1, 2]
