from pathlib import Path

import numpy as np
import pytest

from deepmf.data.interactions import drop_duplicate_pairs, drop_sparse_users, to_interactions
from deepmf.data.raw import RawRatings, parse_ratings
from deepmf.data.split import LeaveOneOutSplit, leave_one_out
from tests.synthetic import write_ml100k


def make_split(tmp_path: Path, validation: bool = True, seed: int = 0, n_negatives: int = 20):
    path = write_ml100k(tmp_path, n_users=40, n_items=120, seed=3)
    raw = drop_sparse_users(drop_duplicate_pairs(parse_ratings(path, "\t")), 3)
    data = to_interactions(raw)
    return data, leave_one_out(data, validation, n_negatives, seed)


def user_items(users: np.ndarray, items: np.ndarray, user: int) -> set[int]:
    return set(items[users == user].tolist())


def test_ids_are_contiguous_even_when_raw_ids_have_gaps():
    raw = RawRatings(
        users=np.array([10, 10, 500]),
        items=np.array([7, 9000, 7]),
        ratings=np.ones(3, np.float32),
        timestamps=np.zeros(3, np.int64),
        source="test",
    )
    data = to_interactions(raw)
    assert (data.n_users, data.n_items) == (2, 2)
    assert sorted(set(data.users.tolist())) == [0, 1]
    assert sorted(set(data.items.tolist())) == [0, 1]
    assert data.item_ids.tolist() == [7, 9000]


def test_held_out_items_never_leak_into_training(tmp_path):
    data, split = make_split(tmp_path)
    for user in range(split.n_users):
        train = user_items(split.train_users, split.train_items, user)
        assert split.test_items[user] not in train
        assert split.val_items[user] not in train
        assert split.val_items[user] != split.test_items[user]
    # Every rating lands in exactly one part.
    assert len(split.train_items) + 2 * split.n_users == len(data)


def test_test_item_is_the_latest_rating(tmp_path):
    data, split = make_split(tmp_path)
    for user in range(split.n_users):
        mine = data.users == user
        latest = data.timestamps[mine].max()
        test_time = data.timestamps[mine & (data.items == split.test_items[user])][0]
        assert test_time == latest


def test_timestamp_ties_break_by_a_seeded_item_order_whatever_the_line_order():
    def test_item(order, seed):
        raw = RawRatings(
            users=np.array([1, 1, 1, 1, 1])[order],
            items=np.array([30, 10, 20, 40, 50])[order],
            ratings=np.ones(5, np.float32),
            timestamps=np.array([5, 9, 9, 9, 1])[order],
            source="test",
        )
        data = to_interactions(raw)
        split = leave_one_out(data, validation=False, n_negatives=0, seed=seed)
        return int(data.item_ids[split.test_items[0]])

    picks = set()
    for seed in range(12):
        pick = test_item([0, 1, 2, 3, 4], seed)
        assert pick == test_item([4, 3, 2, 1, 0], seed)  # line order never matters
        assert pick in {10, 20, 40}  # always one of the latest ratings
        picks.add(pick)
    assert len(picks) > 1  # the tie is broken by the seeded order, not always by the same id


def test_eval_negatives_are_distinct_and_never_the_users_items(tmp_path):
    data, split = make_split(tmp_path, n_negatives=50)
    assert split.eval_negatives.shape == (split.n_users, 50)
    for user in range(split.n_users):
        negatives = split.eval_negatives[user].tolist()
        assert len(set(negatives)) == 50
        assert not set(negatives) & user_items(data.users, data.items, user)
        assert all(0 <= item < split.n_items for item in negatives)


def test_split_is_fixed_by_its_seed(tmp_path):
    _, first = make_split(tmp_path, seed=1)
    _, again = make_split(tmp_path, seed=1)
    _, other = make_split(tmp_path, seed=2)
    assert np.array_equal(first.eval_negatives, again.eval_negatives)
    assert np.array_equal(first.val_items, again.val_items)
    assert not np.array_equal(first.eval_negatives, other.eval_negatives)


def test_validation_can_be_switched_off(tmp_path):
    data, split = make_split(tmp_path, validation=False)
    assert not split.has_validation
    assert len(split.train_items) + split.n_users == len(data)


def test_split_round_trips_through_npz(tmp_path):
    _, split = make_split(tmp_path)
    split.save(tmp_path / "cache" / "split.npz")
    loaded = LeaveOneOutSplit.load(tmp_path / "cache" / "split.npz")
    assert loaded.n_users == split.n_users and loaded.max_rating == split.max_rating
    assert np.array_equal(loaded.eval_negatives, split.eval_negatives)
    assert np.array_equal(loaded.train_items, split.train_items)
    assert not list((tmp_path / "cache").glob("*.tmp"))


def test_sparse_users_are_dropped():
    raw = RawRatings(
        users=np.array([1, 1, 1, 2, 2]),
        items=np.array([1, 2, 3, 1, 2]),
        ratings=np.ones(5, np.float32),
        timestamps=np.arange(5),
        source="test",
    )
    kept = drop_sparse_users(raw, 3)
    assert set(kept.users.tolist()) == {1}


def test_duplicate_pairs_keep_the_latest_rating():
    raw = RawRatings(
        users=np.array([1, 1, 1]),
        items=np.array([5, 5, 6]),
        ratings=np.array([2.0, 4.0, 3.0], np.float32),
        timestamps=np.array([10, 20, 15]),
        source="test",
    )
    kept = drop_duplicate_pairs(raw)
    assert sorted(zip(kept.items.tolist(), kept.ratings.tolist())) == [(5, 4.0), (6, 3.0)]


@pytest.mark.parametrize("validation", [True, False])
def test_too_few_items_for_negatives_is_an_error(validation):
    from deepmf.errors import DataError

    raw = RawRatings(
        users=np.array([1, 1, 1, 2, 2, 2]),
        items=np.array([1, 2, 3, 1, 2, 4]),
        ratings=np.ones(6, np.float32),
        timestamps=np.arange(6),
        source="test",
    )
    with pytest.raises(DataError, match="fewer than data.eval_negatives=2"):
        leave_one_out(to_interactions(raw), validation, n_negatives=2, seed=0)
