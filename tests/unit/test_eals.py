import torch

from deepmf.models.eals import EALS, missing_weights
from tests.models_contract import planted_matrix


def dense_objective(model: EALS) -> torch.Tensor:
    """eALS's loss written out over the full matrix: weight w on observed entries, c_i on missing ones."""
    observed = model.seen.dense() > 0
    c = model.missing_weights().double()
    P, Q = model.user_factors.double(), model.item_factors.double()
    weights = torch.where(observed, torch.tensor(model.observed_weight, dtype=torch.float64), c)
    residual = observed.double() - P @ Q.T
    return (weights * residual**2).sum() + model.reg * (P.pow(2).sum() + Q.pow(2).sum())


def small_eals(**overrides: float) -> EALS:
    torch.manual_seed(0)
    options = dict(factors=4, reg=0.05, c0=20.0, alpha=0.4, observed_weight=2.0, iterations=8, init_std=0.1)
    options.update(overrides)
    return EALS(planted_matrix(), **options)  # type: ignore[arg-type]


def test_missing_weights_follow_popularity_and_sum_to_c0():
    c = missing_weights(torch.tensor([1, 4, 0, 9]), c0=10.0, alpha=0.5)
    torch.testing.assert_close(c, torch.tensor([1.0, 2.0, 0.0, 3.0]) * 10 / 6)
    assert torch.allclose(missing_weights(torch.tensor([1, 4, 9]), 3.0, 0.0), torch.ones(3))


def test_reported_objective_is_the_full_matrix_loss():
    model = small_eals()
    for _ in range(3):
        reported = model.fit_step()
        torch.testing.assert_close(reported.double(), dense_objective(model), rtol=1e-5, atol=1e-4)


def test_every_sweep_lowers_the_objective():
    # Each coordinate update is an exact minimiser, so the loss can never go up (a wrong sign or a
    # stale cache in either update breaks this within a few sweeps).
    model = small_eals(alpha=0.8, observed_weight=1.0)
    losses = [dense_objective(model).item()] + [model.fit_step().item() for _ in range(8)]
    assert all(b <= a * (1 + 1e-6) for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < 0.5 * losses[0]


def dense_coordinate_sweep(model: EALS) -> tuple[torch.Tensor, torch.Tensor]:
    """The textbook update on the full weighted matrix: p_uf = sum_i W_ui (R_ui - rhat^f_ui) q_if /
    (sum_i W_ui q_if^2 + reg), coordinate by coordinate, users then items (no caches, no tricks)."""
    observed = model.seen.dense() > 0
    c = model.missing_weights().double()
    W = torch.where(observed, torch.tensor(model.observed_weight, dtype=torch.float64), c)
    R = observed.double()
    P, Q = model.user_factors.double().clone(), model.item_factors.double().clone()
    for f in range(P.shape[1]):
        rest = R - P @ Q.T + torch.outer(P[:, f], Q[:, f])
        P[:, f] = (W * rest * Q[:, f]).sum(1) / ((W * Q[:, f] ** 2).sum(1) + model.reg)
    for f in range(Q.shape[1]):
        rest = R - P @ Q.T + torch.outer(P[:, f], Q[:, f])
        Q[:, f] = (W * rest * P[:, f].unsqueeze(1)).sum(0) / (
            (W * P[:, f].unsqueeze(1) ** 2).sum(0) + model.reg
        )
    return P, Q


def test_a_sweep_equals_dense_coordinate_descent():
    model = small_eals()
    expected_p, expected_q = dense_coordinate_sweep(model)
    model.fit_step()
    torch.testing.assert_close(model.user_factors.double(), expected_p, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(model.item_factors.double(), expected_q, rtol=1e-4, atol=1e-5)
