"""conf/speed/: the default is the paper's optimisation; a speed option changes only the optimisation."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir

CONF = Path(__file__).resolve().parents[2] / "conf"


def compose_train(overrides: list[str]):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("train", overrides=overrides)


def test_default_is_the_paper_optimisation_and_speed_options_change_only_it():
    paper = compose_train([])
    assert (paper.data.batch_size, paper.optim.lr, paper.data.neg_ratio) == (256, 1e-4, 7)
    fast = compose_train(["speed=large_batch"])
    assert fast.data.batch_size == 4096 and fast.optim.lr > paper.optim.lr
    # Model, loss, negatives, split and evaluation are untouched.
    for key in ("model", "loss", "eval", "selection"):
        assert fast[key] == paper[key], key
    data_keys = set(paper.data) - {"batch_size"}
    assert {k: fast.data[k] for k in data_keys} == {k: paper.data[k] for k in data_keys}
    # An explicit command-line value still wins over the option.
    assert compose_train(["speed=large_batch", "data.batch_size=2048"]).data.batch_size == 2048
