import numpy as np
import pytest
import torch

from deepmf.data.matrix import rating_matrix
from deepmf.models.ease import EASE, ease_weights
from deepmf.models.fitted import interaction_csr
from deepmf.models.itemknn import ItemKNN, cosine_neighbours, top_k_per_row
from deepmf.models.itempop import ItemPop


def random_matrix(n_users: int = 40, n_items: int = 25, density: float = 0.2, seed: int = 0):
    rng = np.random.default_rng(seed)
    users, items = np.nonzero(rng.random((n_users, n_items)) < density)
    ratings = rng.integers(1, 6, size=len(users)).astype(np.float32)
    return rating_matrix(users, items, ratings, n_users, n_items, input="rating")


def dense_shrunk_cosine(X: np.ndarray, shrink: float) -> np.ndarray:
    gram = X.T @ X
    norms = np.sqrt(np.diag(gram))
    sims = gram / (np.outer(norms, norms) + shrink + 1e-12)
    np.fill_diagonal(sims, 0.0)
    return sims


def test_neighbours_are_the_topk_of_the_dense_shrunk_cosine():
    matrix = random_matrix()
    X = matrix.dense().numpy() > 0
    sims = dense_shrunk_cosine(X.astype(float), shrink=3.0)
    neighbours, weights = cosine_neighbours(interaction_csr(matrix), topk=5, shrink=3.0)
    for j in range(X.shape[1]):
        expected = np.sort(sims[:, j])[-5:]
        np.testing.assert_allclose(np.sort(weights[j]), expected, rtol=1e-5)
        np.testing.assert_allclose(weights[j], sims[neighbours[j], j], rtol=1e-5)
        assert j not in neighbours[j][weights[j] > 0]


def test_neighbour_ties_go_to_the_smaller_item_id():
    # Item 0 (users 0-3): item 6 (users 0-2) is the most similar; items 1, 3, 5, 7 (users 0-1) tie for
    # second. Items 2 and 4 (user 9 only) are similar to each other and to nothing else (ties at 0).
    users_of = {0: [0, 1, 2, 3], 6: [0, 1, 2], 1: [0, 1], 3: [0, 1], 5: [0, 1], 7: [0, 1], 2: [9], 4: [9]}
    pairs = [(u, i) for i, users in users_of.items() for u in users]
    users, items = (np.array(column) for column in zip(*pairs))
    matrix = rating_matrix(users, items, np.ones(len(pairs), np.float32), 10, 8, input="binary")
    neighbours, weights = cosine_neighbours(interaction_csr(matrix), topk=3, shrink=0.0)
    assert neighbours[0].tolist() == [6, 1, 3]
    np.testing.assert_allclose(weights[0], [3 / 12**0.5, 2 / 8**0.5, 2 / 8**0.5], rtol=1e-6)
    assert neighbours[2].tolist() == [4, 0, 1] and weights[2].tolist() == [1.0, 0.0, 0.0]
    everyone, _ = cosine_neighbours(interaction_csr(matrix), topk=7, shrink=0.0)
    assert all(j not in everyone[j] for j in range(8))  # never its own neighbour, even at a 0 tie


def test_top_k_per_row_is_a_lexicographic_sort_by_value_then_column():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(2, 30))
        k = int(rng.integers(1, n + 1))
        values = rng.integers(0, 4, size=(5, n)).astype(np.float32)  # many ties
        expected = [np.lexsort((np.arange(n), -row))[:k] for row in values]
        np.testing.assert_array_equal(top_k_per_row(values, k), np.array(expected))


def test_itemknn_scores_sum_similarities_of_the_users_items():
    matrix = random_matrix(seed=1)
    model = ItemKNN(matrix, topk=4, shrink=2.0)
    model.fit_step()
    model.prepare_evaluation()
    X = (matrix.dense() > 0).double()
    W = torch.zeros(matrix.n_columns, matrix.n_columns, dtype=torch.float64)
    for j in range(matrix.n_columns):  # reference: neighbour i of item j contributes sim(i, j)
        W[model.neighbours[j], j] = model.weights[j].double()
    users = torch.arange(matrix.n_rows)
    torch.testing.assert_close(model.score_all(users, matrix.n_columns).double(), X @ W, rtol=1e-5, atol=1e-6)


def test_ease_weights_solve_the_constrained_least_squares():
    X = (random_matrix(seed=2).dense() > 0).double()
    gram, l2 = X.T @ X, 7.0
    B = ease_weights(gram, l2)
    assert torch.all(B.diagonal() == 0)
    # Stationarity: the gradient (G + l2 I) B - G vanishes off the diagonal (the diagonal carries the
    # constraint's multipliers).
    gradient = (gram + l2 * torch.eye(len(gram), dtype=gram.dtype)) @ B - gram
    off_diagonal = gradient - torch.diag(gradient.diagonal())
    assert off_diagonal.abs().max() < 1e-8
    assert gradient.diagonal().abs().min() > 1e-3  # the constraint is active, so this is not vacuous


def test_ease_scores_are_rows_times_b():
    matrix = random_matrix(seed=3)  # 40 users, 25 items: through the items
    model = EASE(matrix, l2=5.0)
    assert not model.through_users
    model.fit_step()
    X = (matrix.dense() > 0).float()
    users = torch.tensor([3, 0, 7])
    torch.testing.assert_close(model.score_all(users, matrix.n_columns), X[users] @ model.item_weights)


def wide_matrix():
    """12 users, 30 items, with a never-rated item and a user who rated nothing."""
    matrix = random_matrix(n_users=12, n_items=30, density=0.3, seed=5)
    dense = matrix.dense()
    dense[:, 4] = 0
    dense[7] = 0
    users, items = torch.nonzero(dense, as_tuple=True)
    return rating_matrix(users.numpy(), items.numpy(), dense[users, items].numpy(), 12, 30, input="rating")


@pytest.mark.parametrize("l2", [0.5, 5.0, 500.0])
def test_ease_through_the_users_gives_the_item_forms_scores(l2):
    matrix = wide_matrix()
    X = (matrix.dense() > 0).double()
    reference = X @ ease_weights(X.T @ X, l2)  # the item-item closed form, float64
    through_users = EASE(matrix, l2=l2)
    through_items = EASE(matrix, l2=l2, through_users=False)
    assert through_users.through_users and not hasattr(through_users, "item_weights")
    assert through_users.user_precision.shape == (12, 12)  # n_users^2, not n_items^2
    users = torch.tensor([7, 0, 3, 11, 3])  # the empty user, and a repeated one
    for model in (through_users, through_items):
        model.fit_step()
        scores = model.score_all(users, matrix.n_columns)
        assert scores.dtype == torch.float32
        torch.testing.assert_close(scores.double(), reference[users], rtol=1e-5, atol=1e-6)
    assert torch.all(through_users.score_all(users, 30)[:, 4] == 0)  # no one rated item 4: no score
    assert torch.all(through_users.score_all(torch.tensor([7]), 30) == 0)


def test_itempop_ignores_ratings_and_counts_interactions():
    matrix = random_matrix(seed=4)
    model = ItemPop(matrix)
    model.fit_step()
    counts = (matrix.dense() > 0).sum(0).float()
    assert torch.equal(model.score_all(torch.tensor([0, 1]), matrix.n_columns), counts.expand(2, -1))
