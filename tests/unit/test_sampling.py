import torch

from deepmf.data.batches import TrainBatches
from deepmf.data.sampling import sample_negatives, sorted_pair_keys


def small_train():
    users = torch.tensor([0, 0, 0, 1, 1, 2])
    items = torch.tensor([0, 1, 2, 2, 3, 0])
    return users, items, torch.tensor([5.0, 3.0, 1.0, 4.0, 2.0, 5.0])


def test_negatives_are_never_training_positives():
    users, items, _ = small_train()
    keys = sorted_pair_keys(users, items, n_items=5)
    many = users.repeat(500)
    generator = torch.Generator().manual_seed(0)
    negatives = sample_negatives(many, keys, n_items=5, generator=generator)
    positives = {(int(u), int(i)) for u, i in zip(users, items)}
    assert all((int(u), int(i)) not in positives for u, i in zip(many, negatives))
    # Every allowed item shows up: the sampler is not stuck on a subset.
    assert set(negatives[many == 0].tolist()) == {3, 4}


def make_batches(seed: int, resample: bool = True) -> TrainBatches:
    users, items, ratings = small_train()
    return TrainBatches(
        users,
        items,
        ratings,
        n_items=5,
        neg_ratio=3,
        resample=resample,
        batch_size=4,
        seed=seed,
        current_epoch=lambda: 0,
    )


def test_epoch_holds_positives_and_neg_ratio_negatives():
    batches = make_batches(seed=0)
    users, items, ratings = batches.epoch_pairs(0)
    assert len(users) == 6 * 4 == batches.n_pairs
    assert int((ratings > 0).sum()) == 6
    assert len(batches) == 6
    assert sum(len(b[0]) for b in batches) == 24


def test_same_seed_same_pairs_and_different_seed_different_negatives():
    first, again, other = make_batches(0), make_batches(0), make_batches(1)
    assert all(torch.equal(a, b) for a, b in zip(first.epoch_pairs(2), again.epoch_pairs(2)))
    assert not torch.equal(first.epoch_pairs(2)[1], other.epoch_pairs(2)[1])


def test_negatives_resampled_per_epoch_unless_once():
    def negatives(batches, epoch):
        users, items, ratings = batches.epoch_pairs(epoch)
        return sorted(zip(users[ratings == 0].tolist(), items[ratings == 0].tolist()))

    resampled = make_batches(0, resample=True)
    once = make_batches(0, resample=False)
    assert negatives(resampled, 0) != negatives(resampled, 1)
    assert negatives(once, 0) == negatives(once, 1)
