import numpy as np
import pytest
import torch

from deepmf.data.matrix import SparseRows, rating_matrix
from deepmf.losses import PointwiseLoss
from deepmf.models.dmf import DMF, Tower, tower_widths


def small_matrix() -> SparseRows:
    users = np.array([0, 0, 1, 2, 2, 2])
    items = np.array([1, 3, 0, 0, 2, 3])
    ratings = np.array([5, 3, 4, 1, 2, 5], dtype=np.float32)
    return rating_matrix(users, items, ratings, n_users=3, n_items=4, input="rating")


def test_gather_returns_each_rows_nonzeros():
    rows = small_matrix()
    indices, offsets, values = rows.gather(torch.tensor([2, 0]))
    assert indices.tolist() == [0, 2, 3, 1, 3]
    assert offsets.tolist() == [0, 3]
    assert values.tolist() == [1, 2, 5, 5, 3]


def test_embedding_bag_first_layer_equals_dense_row_times_w1():
    torch.manual_seed(0)
    rows = small_matrix()
    tower = Tower(input_dim=4, widths=[6, 3], init_std=0.5)
    users = torch.tensor([0, 1, 2, 2])
    dense_rows = rows.dense()[users]
    expected_first = dense_rows @ tower.first_matrix()
    indices, offsets, values = rows.gather(users)
    got_first = torch.nn.functional.embedding_bag(
        indices, tower.first_matrix(), offsets, mode="sum", per_sample_weights=values
    )
    assert torch.allclose(got_first, expected_first, atol=1e-6)
    # Eq. 5 written out: l1 = W1 x (no bias, no activation), then l2 = ReLU(W2 l1 + b2), the output.
    second = tower.mlp[0]
    by_hand = torch.relu(expected_first @ second.weight.T + second.bias)
    out = tower(indices, offsets, values)
    assert torch.allclose(out, by_hand, atol=1e-6)
    assert (out >= 0).all() and (out == 0).any()  # the output layer's ReLU is there, and active


def test_tower_weights_start_normal_with_init_std_and_zero_biases():
    torch.manual_seed(0)
    tower = Tower(input_dim=400, widths=[300, 200], init_std=0.05)
    second = tower.mlp[0]
    for weight in (tower.first_matrix(), second.weight):
        assert abs(weight.mean().item()) < 0.002
        assert weight.std().item() == pytest.approx(0.05, rel=0.02)
    assert torch.equal(second.bias, torch.zeros(200))


def test_binary_input_is_eq_1():
    users, items = np.array([0, 1]), np.array([1, 0])
    matrix = rating_matrix(users, items, np.array([4.0, 2.0], np.float32), 2, 2, input="binary")
    assert matrix.dense().tolist() == [[0.0, 1.0], [1.0, 0.0]]


def test_item_tower_reads_columns_of_y():
    rows = small_matrix()
    columns = rows.transpose()
    assert torch.equal(columns.dense(), rows.dense().T)


def test_dmf_scores_are_clamped_cosines():
    torch.manual_seed(0)
    model = DMF(small_matrix(), user_widths=[8, 4], item_widths=[6, 4], init_std=0.3)
    users, items = torch.tensor([0, 1, 2, 0]), torch.tensor([0, 1, 2, 0])
    scores = model(users, items)
    p = model.user_vectors(users)
    q = model.item_vectors(items)
    cosine = torch.nn.functional.cosine_similarity(p, q).clamp(1e-6, 1 - 1e-6)
    assert torch.allclose(scores, cosine, atol=1e-6)
    assert scores[0] == scores[3]  # repeated pairs go through the towers once, same result


def test_identical_vectors_score_just_below_one_so_both_losses_stay_finite():
    model = DMF(small_matrix(), user_widths=[8, 4], item_widths=[6, 4], init_std=0.3)
    same = torch.ones(1, 4)
    model.user_vectors = lambda users: same  # type: ignore[method-assign]
    model.item_vectors = lambda items: same  # type: ignore[method-assign]
    score = model(torch.tensor([0]), torch.tensor([0]))
    assert score.item() == pytest.approx(1 - 1e-6, abs=1e-7) and score.item() < 1
    for name in ("nce", "ce"):
        assert torch.isfinite(PointwiseLoss(name, 5.0)(score, torch.tensor([0.0])))


def test_evaluation_scoring_matches_training_scoring():
    torch.manual_seed(0)
    model = DMF(small_matrix(), user_widths=[8, 4], item_widths=[6, 4], init_std=0.3)
    model.prepare_evaluation()
    users = torch.tensor([0, 2])
    all_scores = model.score_all(users, 4)
    pair_scores = model(users.repeat_interleave(4), torch.arange(4).repeat(2)).view(2, 4)
    assert torch.allclose(all_scores, pair_scores, atol=1e-6)
    candidates = torch.tensor([[3, 1], [0, 2]])
    assert torch.allclose(model.score_items(users, candidates), all_scores.gather(1, candidates))
    sampled, full = model.score_items_and_all(users, candidates, 4)
    assert torch.allclose(sampled, model.score_items(users, candidates))
    assert torch.allclose(full, all_scores)


def test_evaluation_item_vectors_are_computed_in_chunks(monkeypatch):
    import deepmf.models.base as base

    torch.manual_seed(0)
    model = DMF(small_matrix(), user_widths=[8, 4], item_widths=[6, 4], init_std=0.3)
    model.prepare_evaluation()
    whole = model._eval_items.clone()
    monkeypatch.setattr(base, "EVAL_TOWER_CHUNK", 3)
    model.prepare_evaluation()
    assert torch.allclose(model._eval_items, whole, atol=1e-6)


def test_tower_widths_halve_from_the_first_width_down_to_factors():
    assert tower_widths(2, 64, 512) == [512, 64]
    assert tower_widths(2, 64, 1024) == [1024, 64]
    assert tower_widths(1, 64, 512) == [64]
    assert tower_widths(4, 64, 512) == [512, 256, 128, 64]


def test_first_layer_block_option_sets_the_layout_not_the_model(tmp_path):
    """``model.first_layer_block``: the towers keep W1 in blocks that wide, one block when it is wider."""
    from deepmf.models.base import ModelContext, build_model
    from tests.runs import config

    model_config = config(tmp_path, tmp_path, "model.first_layer_block=8").model  # both towers 32 wide
    context = ModelContext(n_users=3, n_items=4, train_matrix=small_matrix(), max_rating=5.0)
    model = build_model(model_config, context)
    assert model.user_tower.first.shape == (4, 4, 8)  # 4 blocks of 8 columns, one row per item
    assert model.item_tower.first.shape == (4, 3, 8)  # one row per user
    model_config.first_layer_block = 10_000
    assert build_model(model_config, context).item_tower.first.shape == (1, 3, 32)
