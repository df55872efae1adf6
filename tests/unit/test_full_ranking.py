"""Both protocols against brute force on a real data module: known items never compete, ties count against."""

import numpy as np
import pytest
import torch

from deepmf.data.cli import build_datamodule
from deepmf.evaluation.ranking import rank_batch
from tests.synthetic import write_ml100k
from tests.unit.test_ragged_ranking import TableModel


@pytest.fixture(scope="module")
def datamodule(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("full_ranking")
    write_ml100k(root / "data", n_users=40, n_items=120, seed=11)
    paths = [f"paths.data_dir={root / 'data'}", f"paths.cache_dir={root / 'cache'}"]
    return build_datamodule(["data=ml100k", "data.eval_negatives=30", *paths])


def brute_force_ranks(table: np.ndarray, split, stage: str) -> tuple[list[int], list[int]]:
    """Per user: (# sampled negatives, # never-interacted items) scoring at least the held-out item."""
    targets = split.test_items if stage == "test" else split.val_items
    sampled, full = [], []
    for user, target in enumerate(targets):
        known = set(split.train_items[split.train_users == user].tolist())
        known |= {int(split.test_items[user]), int(split.val_items[user])}
        score = table[user, target]
        sampled.append(int(sum(table[user, j] >= score for j in split.eval_negatives[user])))
        full.append(int(sum(table[user, j] >= score for j in range(split.n_items) if j not in known)))
    return sampled, full


@pytest.mark.parametrize("stage", ["val", "test"])
def test_ranks_equal_brute_force_with_many_ties(datamodule, stage):
    rng = np.random.default_rng(0)
    # Four distinct scores: most targets tie with many items, so the tie rule shows in every rank.
    table = rng.integers(0, 4, size=(datamodule.n_users, datamodule.n_items)).astype(np.float32)
    # Every user's training items score highest: left unmasked, they would push every full rank down.
    split = datamodule.split
    table[split.train_users, split.train_items] = 9.0
    model = TableModel(torch.as_tensor(table))
    model.prepare_evaluation()
    loader = datamodule.test_dataloader() if stage == "test" else datamodule.val_dataloader()
    ranks = [rank_batch(model, batch, datamodule.n_items) for batch in loader]
    sampled = torch.cat([r[0] for r in ranks]).tolist()
    full = torch.cat([r[1] for r in ranks]).tolist()
    expected_sampled, expected_full = brute_force_ranks(table, split, stage)
    assert sampled == expected_sampled
    assert full == expected_full
