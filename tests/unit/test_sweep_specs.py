"""sweeps/*.yaml: each parses, calls train.py with Hydra overrides, and runs its experiment's grid."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "conf"
EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
FIXED = {"experiment", "hydra.mode", "logger.mode"}  # not part of the experiment's grid


def compose_train(overrides: list[str]):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("train", overrides=overrides, return_hydra_config=True)


def test_every_experiment_has_a_sweep_spec():
    assert EXPERIMENTS == ["figure2", "table1", "table2", "table3", "table4", "table5"]
    assert sorted(p.stem for p in (ROOT / "sweeps").glob("*.yaml")) == EXPERIMENTS


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_sweep_spec_matches_the_experiment_grid(name):
    spec = yaml.safe_load((ROOT / "sweeps" / f"{name}.yaml").read_text())
    assert (ROOT / spec["program"]).is_file() and spec["program"] == "train.py"
    assert spec["command"][-2:] == ["${program}", "${args_no_hyphens}"]
    params = spec["parameters"]
    assert params["experiment"] == {"value": name} and params["hydra.mode"] == {"value": "RUN"}

    cfg = compose_train([f"experiment={name}"])
    assert cfg.hydra.mode.name == "MULTIRUN" and cfg.report == name and cfg.logger.group == name
    parser = OverridesParser.create()
    grid = {
        key: [str(v) for v in parser.parse_override(f"{key}={value}").sweep_string_iterator()]
        for key, value in cfg.hydra.sweeper.params.items()
    }
    assert {k: [str(v) for v in p["values"]] for k, p in params.items() if k not in FIXED} == grid
    if name != "table1":
        assert len(grid["seed"]) >= 3

    # Every key is a config group with these options, or an existing config key.
    for key, values in grid.items():
        if (CONF / key).is_dir():
            assert all((CONF / key / f"{v}.yaml").is_file() for v in values), key
        else:
            assert OmegaConf.select(cfg, key, default="<missing>") != "<missing>", key

    # The first job of the grid composes as a single run, with the values the agent passes.
    job = compose_train([f"{k}={p['value']}" for k, p in params.items() if k in FIXED] + [
        f"{k}={v[0]}" for k, v in grid.items() if k != "method"
    ])  # fmt: skip
    assert job.hydra.mode.name == "RUN"


@pytest.mark.parametrize("method", sorted(p.stem for p in (CONF / "method").glob("*.yaml")))
def test_methods_compose(method):
    model = next(
        line.split(":")[1].strip()
        for line in (CONF / "method" / f"{method}.yaml").read_text().splitlines()
        if "override /model:" in line
    )
    if not (CONF / "model" / f"{model}.yaml").is_file():
        pytest.skip(f"model {model} is not on this branch")
    cfg = compose_train(["experiment=table2", f"method={method}"])
    assert cfg.model.name == model
    if method == "dmf_tuned":  # its values come from conf/hparams/tuned/<data>/dmf.yaml (none here: null)
        assert cfg.loss.name == "nce" and cfg.tuned_as == "dmf" and cfg.tuned_required
    elif method.startswith("dmf"):
        assert cfg.model.layers == int(method[3]) and cfg.loss.name == method.split("_")[1]
        assert cfg.data.input == ("binary" if method.endswith("binary") else "rating")
