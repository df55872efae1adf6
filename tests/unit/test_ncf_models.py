import pytest
import torch
from omegaconf import OmegaConf

import deepmf.models.base as base
import deepmf.models.ncf as ncf
from deepmf.models.ncf import NCF, GMFBranch, MLPBranch, neumf_components
from deepmf.training.module import RecommenderModule
from tests.models_contract import build, model_config, planted_matrix


def logits(model, users, items):
    probabilities = model(users, items).double()
    return torch.log(probabilities) - torch.log1p(-probabilities)


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_neumf_p_starts_as_the_alpha_mix_of_gmf_and_mlp(alpha):
    matrix = planted_matrix()
    neumf = build("neumf", matrix)
    # NeuMF-p's components are trained with NeuMF's branch sizes, whatever the GMF / MLP defaults are.
    sizes = model_config("neumf")
    gmf = build("gmf", matrix, factors=sizes.factors)
    mlp = build("mlp", matrix, mlp_layers=list(sizes.mlp_layers))
    for model in (gmf, mlp):  # move off the initialisation so that copying matters
        torch.nn.init.normal_(model.predict.weight, std=0.5)
        torch.nn.init.normal_(model.predict.bias, std=0.5)
    context_weights = {"gmf": gmf.state_dict(), "mlp": mlp.state_dict()}
    neumf.load_pretrained(context_weights, alpha)
    users, items = torch.tensor([0, 3, 12, 17]), torch.tensor([0, 5, 11, 2])
    expected = alpha * logits(gmf, users, items) + (1 - alpha) * logits(mlp, users, items)
    torch.testing.assert_close(logits(neumf, users, items), expected, rtol=1e-4, atol=1e-4)


def count_users(monkeypatch, cls: type, method: str) -> list[int]:
    """Wrap ``cls.method(users, items)``; the returned list gets ``len(users)`` of every call."""
    calls: list[int] = []
    original = getattr(cls, method)

    def counting(self, users, items):
        calls.append(len(users))
        return original(self, users, items)

    monkeypatch.setattr(cls, method, counting)
    return calls


def test_the_pairwise_fallback_is_sliced_and_equals_one_big_forward(monkeypatch):
    model = build("neumf", planted_matrix())
    users = torch.arange(18)
    items = torch.arange(18).expand(18, 18)
    whole = model(users.repeat_interleave(18), items.reshape(-1)).view(18, 18)
    monkeypatch.setattr(base, "PAIRS_PER_FORWARD", 40)
    calls = count_users(monkeypatch, type(model), "forward")
    with torch.no_grad():
        sliced = base.Recommender.score_items(model, users, items)  # the fallback own models inherit
    torch.testing.assert_close(sliced, whole.detach())
    assert max(calls) <= 40 and sum(calls) == 18 * 18


def test_ncf_grid_scoring_is_sliced_by_users(monkeypatch):
    model = build("neumf", planted_matrix())
    users = torch.arange(18)
    with torch.no_grad():
        whole = model.score_all(users, 18)
    monkeypatch.setattr(ncf, "PAIRS_PER_FORWARD", 40)
    sliced_users = count_users(monkeypatch, type(model), "grid_scores")
    with torch.no_grad():
        torch.testing.assert_close(model.score_all(users, 18), whole)
    assert max(sliced_users) * 18 <= 40 and sum(sliced_users) == 18


def test_neumf_p_components_train_with_adam_whatever_optimizer_fine_tunes_neumf():
    config = {"pretrain": True, "init_std": 0.01, "factors": 8, "mlp_layers": [16, 8]}
    components = neumf_components(OmegaConf.create(config | {"pretrain_lr": 0.002}))
    assert {name: c["optim"] for name, c in components.items()} == {
        "gmf": {"name": "adam", "lr": 0.002},
        "mlp": {"name": "adam", "lr": 0.002},
    }
    assert neumf_components(OmegaConf.create(config | {"pretrain": False})) == {}


@pytest.mark.parametrize(("name", "kind"), [("adam", torch.optim.Adam), ("sgd", torch.optim.SGD)])
def test_optim_name_picks_the_optimizer(name, kind):
    module = RecommenderModule(torch.nn.Linear(2, 1), None, 0.1, [10], 5, optimizer=name)  # type: ignore[arg-type]
    optimizer = module.configure_optimizers()
    assert type(optimizer) is kind and optimizer.defaults["lr"] == 0.1


@pytest.mark.parametrize("branches", [("gmf",), ("mlp",), ("gmf", "mlp")])
def test_ncf_scores_a_grid_as_its_forward_scores_each_pair(branches):
    torch.manual_seed(0)
    n_users, n_items = 9, 31
    make = {
        "gmf": lambda: GMFBranch(n_users, n_items, 8, 0.5),
        "mlp": lambda: MLPBranch(n_users, n_items, [16, 12, 4], 0.5),
    }
    model = NCF({name: make[name]() for name in branches})
    with torch.no_grad():
        model.predict.bias.fill_(0.3)  # a bias and weights far from 0: every term of the sum shows
    users = torch.tensor([4, 0, 8, 4])
    candidates = torch.randint(0, n_items, (4, 6))
    pairwise = model(users.repeat_interleave(6), candidates.reshape(-1)).view(4, 6)
    all_items = torch.arange(n_items)
    everything = model(users.repeat_interleave(n_items), all_items.repeat(4)).view(4, n_items)
    with torch.no_grad():
        torch.testing.assert_close(model.score_items(users, candidates), pairwise, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(model.score_all(users, n_items), everything, rtol=1e-5, atol=1e-6)
        assert everything.std() > 0.01  # the scores differ across pairs: the check is not vacuous
