import numpy as np
import torch

from deepmf.data.matrix import rating_matrix
from deepmf.models.ease import EASE, ease_weights
from deepmf.models.fitted import interaction_csr
from deepmf.models.itemknn import ItemKNN, cosine_neighbours
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
    matrix = random_matrix(seed=3)
    model = EASE(matrix, l2=5.0)
    model.fit_step()
    X = (matrix.dense() > 0).float()
    users = torch.tensor([3, 0, 7])
    torch.testing.assert_close(model.score_all(users, matrix.n_columns), X[users] @ model.item_weights)


def test_itempop_ignores_ratings_and_counts_interactions():
    matrix = random_matrix(seed=4)
    model = ItemPop(matrix)
    model.fit_step()
    counts = (matrix.dense() > 0).sum(0).float()
    assert torch.equal(model.score_all(torch.tensor([0, 1]), matrix.n_columns), counts.expand(2, -1))
