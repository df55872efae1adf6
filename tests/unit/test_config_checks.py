"""Invalid configs fail in check_config, before any data is read, naming the key and what is allowed."""

from __future__ import annotations

import pytest
import torch

from deepmf.errors import ConfigError
from deepmf.training.run import check_config
from tests.runs import config


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.layers=0", "model.layers must be an integer >= 1, got 0"),
        ("model.factors=-1", "model.factors must be an integer >= 1, got -1"),
        ("model.init_std=0", "model.init_std must be > 0, got 0"),
        ("model.first_layer_block=0", "model.first_layer_block must be an integer >= 1, got 0"),
        (
            "model.first_layer_block=12",
            "model.first_layer_block=12 must divide each tower's first width [32]",
        ),
        ("model.name=svd", "model.name must be one of ['dmf', 'eals', 'ease', 'gmf', 'itemknn', 'itempop',"),
        ("data.neg_ratio=-2", "data.neg_ratio must be an integer >= 0, got -2"),
        ("data.negative_sampling=sometimes", "data.negative_sampling must be 'resample' or 'once', got"),
        ("data.eval_negatives=0", "data.eval_negatives must be an integer >= 1, got 0"),
        ("data.input=stars", "data.input must be 'rating' or 'binary', got 'stars'"),
        ("data.batch_size=0", "data.batch_size must be an integer >= 1, got 0"),
        ("data.rating_scale=[5,1]", "data.rating_scale must be null or [lowest, highest] with 0 < lowest"),
        ("loss.name=hinge", "loss must be nce or ce, got 'hinge'"),
        ("optim.name=rmsprop", "optim.name must be one of adam, sgd, got 'rmsprop'"),
        ("+trainer.precision=16-mixed", "trainer.precision=16-mixed is not supported"),
        ("loss.max_rating=abc", "loss.max_rating must be null or a number > 0, got 'abc'"),
        ("loss.max_rating=0", "loss.max_rating must be null or a number > 0, got 0"),
        ("optim.lr=0", "optim.lr must be a number > 0, got 0"),
        ("optim.lr=fast", "optim.lr must be a number > 0, got 'fast'"),
        ("eval.ks=[0]", "eval.ks must be a list of integers >= 1, got [0]"),
        ("selection.monitor=val/ndcg", "selection.monitor must be val/<metric>@K (e.g. val/ndcg@10)"),
        ("selection.monitor=val/ndcg@20", "selection.monitor=val/ndcg@20 needs 20 in eval.ks"),
        ("resume=/no/such/last.ckpt", "resume=/no/such/last.ckpt: no such checkpoint file"),
    ],
)
def test_invalid_option_names_key_and_allowed_values(tmp_path, override, message):
    with pytest.raises(ConfigError) as info:
        check_config(config(tmp_path / "no-data", tmp_path / "cache", override))
    assert message in str(info.value)


def test_lfm_options_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="model.embedding_dim must be an integer >= 1, got 0"):
        check_config(config(tmp_path, tmp_path, "model=lfm", "model.embedding_dim=0"))


def test_default_config_passes(tmp_path):
    check_config(config(tmp_path, tmp_path))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (("data=csv",), "data.path must be given (no default), e.g. data.path=<value>"),
        (("data=ncf",), "data.name must be given (no default)"),
        (
            ("logger=wandb", "logger.mode=onlin"),
            "logger.mode must be offline, online or disabled, got 'onlin'",
        ),
    ],
)
def test_missing_values_and_logger_options_fail_before_any_data_is_read(tmp_path, overrides, message):
    with pytest.raises(ConfigError) as info:
        check_config(config(tmp_path / "no-data", tmp_path / "cache", *overrides))
    assert message in str(info.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_gpu_trainer_without_a_gpu_says_so(tmp_path):
    with pytest.raises(ConfigError, match="trainer=gpu, but torch sees no CUDA GPU"):
        check_config(config(tmp_path / "no-data", tmp_path / "cache", "trainer=gpu"))
