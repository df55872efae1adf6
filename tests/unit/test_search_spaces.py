"""Every optuna search space in conf/hparams/search/ composes, shares one budget, selects on validation, and
each end of each of its ranges is a configuration that train.py accepts."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from hydra_plugins.hydra_optuna_sweeper._impl import create_params_from_overrides
from omegaconf import OmegaConf
from optuna.distributions import CategoricalDistribution

from deepmf.training.run import check_config
from tests.runs import CONF

SPACES = sorted(p.stem for p in (CONF / "hparams" / "search").glob("*.yaml") if p.stem != "budget")
OPTUNA = "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper"


def composed(*overrides: str, hydra: bool = True):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("train", overrides=list(overrides), return_hydra_config=hydra)


def ends(distribution) -> list[object]:
    """The lowest and highest value a distribution can draw."""
    if isinstance(distribution, CategoricalDistribution):
        return [distribution.choices[0], distribution.choices[-1]]
    return [distribution.low, distribution.high]


def test_every_method_has_a_space():
    assert set(SPACES) == {"dmf", "lfm", "itemknn", "ease", "eals", "gmf", "mlp", "neumf"}


@pytest.mark.parametrize("space", SPACES)
def test_space_composes_with_the_shared_budget_on_validation(space):
    cfg = composed(f"+hparams/search={space}")
    budget = OmegaConf.load(CONF / "hparams" / "search" / "budget.yaml")
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_ == OPTUNA and sweeper.direction == "maximize"
    assert sweeper.n_trials == budget.hydra.sweeper.n_trials
    assert sweeper.sampler.seed == budget.hydra.sweeper.sampler.seed
    # The same epochs and early stopping for every method: no recipe or model default overrides them.
    assert cfg.trainer.max_epochs == budget.trainer.max_epochs
    assert cfg.selection.patience == budget.selection.patience
    assert cfg.selection.monitor.startswith("val/") and cfg.data.validation
    assert cfg.model.name == space

    distributions, fixed = create_params_from_overrides([f"{k}={v}" for k, v in sweeper.params.items()])
    assert distributions and not fixed, "every parameter of a space is searched"
    for key, distribution in distributions.items():
        absent = object()
        assert OmegaConf.select(cfg, key, default=absent) is not absent, f"{space}: no option {key}"
        for value in ends(distribution):
            # The trial's override as the sweeper writes it; train.py's own checks accept it.
            check_config(composed(f"+hparams/search={space}", f"{key}={value}", hydra=False))


def test_space_can_be_narrowed_and_the_grids_still_work():
    cfg = composed("+hparams/search=dmf", "hydra.sweeper.n_trials=3", "model.layers=2")
    assert cfg.hydra.sweeper.n_trials == 3 and cfg.model.layers == 2
    grid = composed("+hparams=itemknn")
    assert grid.hydra.sweeper._target_.endswith("BasicSweeper") and grid.model.name == "itemknn"
