"""The data module's side of the protocol: Y from training ratings only, candidates shared by every run."""

from pathlib import Path

import numpy as np
import pytest

from deepmf.data.cli import build_datamodule
from deepmf.data.datamodule import InteractionDataModule
from tests.synthetic import write_ml100k


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("protocol")
    write_ml100k(root / "data", n_users=40, n_items=120, seed=7)
    return root


def datamodule(root: Path, *overrides: str) -> InteractionDataModule:
    # A cache per configuration: a split loaded from another run's cache would hide what seeds it.
    cache = root / ("cache-" + "_".join(overrides).replace("=", "-"))
    paths = [f"paths.data_dir={root / 'data'}", f"paths.cache_dir={cache}"]
    return build_datamodule(["data=ml100k", "data.eval_negatives=30", *paths, *overrides])


def test_y_holds_exactly_the_training_ratings(data_dir):
    dm = datamodule(data_dir)
    split = dm.split
    y = dm.train_matrix().dense().numpy()
    users = np.arange(split.n_users)
    assert (y[users, split.test_items] == 0).all()
    assert (y[users, split.val_items] == 0).all()
    assert np.count_nonzero(y) == len(split.train_users)
    assert np.array_equal(y[split.train_users, split.train_items], split.train_ratings)
    # The item tower's input, the columns of Y, is the same matrix transposed.
    assert np.array_equal(dm.train_matrix().transpose().dense().numpy(), y.T)


def test_binary_y_marks_the_same_training_pairs(data_dir):
    rating = datamodule(data_dir).train_matrix().dense().numpy()
    binary = datamodule(data_dir, "data.input=binary").train_matrix().dense().numpy()
    assert np.array_equal(binary, (rating > 0).astype(np.float32))


def test_every_run_seed_sees_the_same_held_out_items_and_candidates(data_dir):
    first, other_seed = datamodule(data_dir, "seed=0"), datamodule(data_dir, "seed=1")
    for name in ("test_items", "val_items", "eval_negatives", "train_items"):
        assert np.array_equal(getattr(first.split, name), getattr(other_seed.split, name)), name
    # The split has its own seed: changing it is what draws other candidates.
    other_split = datamodule(data_dir, "data.split_seed=1")
    assert not np.array_equal(first.split.eval_negatives, other_split.split.eval_negatives)
    assert not np.array_equal(first.split.val_items, other_split.split.val_items)
