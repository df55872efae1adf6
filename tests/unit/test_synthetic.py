import numpy as np
import pytest

from deepmf.data.synthetic import PRESETS, SyntheticDataModule, generate, resolve_spec, user_counts
from deepmf.errors import ConfigError


def test_generator_is_seeded_and_exact_in_shape():
    spec = PRESETS["small"]
    first, again = generate(spec), generate(spec)
    assert np.array_equal(first.items, again.items) and np.array_equal(first.ratings, again.ratings)
    other = generate(resolve_spec("small", seed=1))
    assert not np.array_equal(first.items[:100], other.items[:100])
    keys = first.users * 10**6 + first.items
    assert len(np.unique(keys)) == len(keys)  # distinct (user, item) pairs
    assert abs(len(first) - spec.n_ratings) <= spec.n_users
    assert first.users.min() == 1 and first.users.max() == spec.n_users
    assert first.items.max() <= spec.n_items
    assert set(np.unique(first.ratings)) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    per_user = np.bincount(first.users)[1:]
    assert per_user.min() >= spec.min_per_user
    # Distinct timestamps within each user, so the leave-one-out test item is unambiguous.
    assert len(np.unique(first.users * 10**10 + first.timestamps)) == len(first)


def test_activity_and_popularity_are_heavy_tailed():
    data = generate(PRESETS["small"])
    per_user = np.bincount(data.users)[1:]
    per_item = np.bincount(data.items)
    assert per_user.max() > 4 * np.median(per_user)
    assert per_item.max() > 10 * np.median(per_item[per_item > 0])


def test_user_counts_reach_the_target_total():
    spec = PRESETS["ml1m"]
    counts = user_counts(spec, np.random.default_rng(0))
    assert len(counts) == spec.n_users
    assert abs(counts.sum() - spec.n_ratings) <= spec.n_users
    assert counts.max() <= spec.max_per_user and counts.min() >= spec.min_per_user


def test_datamodule_needs_no_file_and_splits_every_user(tmp_path):
    module = SyntheticDataModule(preset="small", cache_dir=str(tmp_path), n_users=80, n_ratings=3000)
    module.setup()
    assert module.n_users == 80
    assert module.info is not None and module.info.source.startswith("synthetic:")
    assert len(module.split.test_items) == 80 and len(module.split.val_items) == 80
    assert any(tmp_path.rglob("split-*.npz"))  # cached under a key derived from the generator settings


def test_unknown_preset_names_the_choices():
    with pytest.raises(ConfigError, match="amazon_movies"):
        resolve_spec("netflix")
