"""Every registered model, DMF and LFM included, meets the same contract on a planted dataset."""

from __future__ import annotations

import pytest
import torch

from deepmf.models import MODELS
from tests.models_contract import CONF, PLANTED_ITEM, PROBE_USER, build, fit, planted_matrix

NAMES = sorted(MODELS)


def test_every_registered_model_has_a_config_and_is_tested():
    assert {"dmf", "lfm", "itempop", "itemknn", "eals", "ease", "gmf", "mlp", "neumf"} <= set(NAMES)
    for name in NAMES:
        assert (CONF / f"{name}.yaml").is_file(), name


@pytest.fixture(scope="module", params=NAMES)
def fitted(request):
    matrix = planted_matrix()
    model = fit(build(request.param, matrix), matrix)
    model.eval()
    with torch.no_grad():
        model.prepare_evaluation()
    return request.param, model, matrix


@torch.no_grad()
def test_scores_have_the_right_shape_and_are_finite(fitted):
    name, model, matrix = fitted
    users = torch.tensor([0, 5, 13, 17])
    all_scores = model.score_all(users, matrix.n_columns)
    assert all_scores.shape == (4, matrix.n_columns), name
    assert torch.isfinite(all_scores).all(), name
    candidates = torch.tensor([[0, 3, 11], [2, 2, 17], [12, 0, 1], [5, 6, 7]])
    item_scores = model.score_items(users, candidates)
    assert item_scores.shape == (4, 3), name
    # score_items, score_all and forward are three views of the same scores.
    torch.testing.assert_close(item_scores, all_scores.gather(1, candidates), rtol=1e-5, atol=1e-6)
    pairs = model(users.repeat_interleave(3), candidates.reshape(-1)).view(4, 3)
    torch.testing.assert_close(pairs, item_scores, rtol=1e-5, atol=1e-6)


@torch.no_grad()
def test_planted_item_is_ranked_strictly_first_among_unseen_items(fitted):
    name, model, matrix = fitted
    scores = model.score_all(torch.tensor([PROBE_USER]), matrix.n_columns)[0]
    seen = matrix.indices[matrix.indptr[PROBE_USER] : matrix.indptr[PROBE_USER + 1]]
    competitors = torch.ones(matrix.n_columns, dtype=torch.bool)
    competitors[seen] = False
    competitors[PLANTED_ITEM] = False
    # Strict: a constant or collapsed scorer ties and fails, as the pessimistic protocol would count it.
    assert scores[PLANTED_ITEM] > scores[competitors].max(), (name, scores.tolist())
