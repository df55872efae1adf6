"""The ``fast_path`` block: checked before any data is read, resolved per trainer and model."""

from __future__ import annotations

import numpy as np
import pytest

from deepmf.data.matrix import rating_matrix
from deepmf.errors import ConfigError
from deepmf.models.dmf import DMF
from deepmf.models.lfm import LFM
from deepmf.training.fast_path import FastPathSettings, check_fast_path_config, resolve_fast_path


def dmf() -> DMF:
    matrix = rating_matrix(np.array([0, 1]), np.array([1, 0]), np.array([5.0, 3.0]), 2, 2, "rating")
    return DMF(matrix, [4, 2], [4, 2], 0.1)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("enabled", "yes", "fast_path.enabled must be auto, true or false, got 'yes'"),
        ("compile", "max", "fast_path.compile must be auto, true, false or cuda_graph, got 'max'"),
        ("steps_per_call", 0, "fast_path.steps_per_call must be an integer >= 1, got 0"),
        ("first_layer", "coo", "fast_path.first_layer must be one of auto, dense, sparse_padded, bag"),
        ("dense_budget_mb", -1, "fast_path.dense_budget_mb must be a number >= 0, got -1"),
        ("fast", True, "fast_path.fast is not an option"),
    ],
)
def test_bad_fast_path_options_are_named(key, value, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        check_fast_path_config({key: value})


def test_auto_is_on_for_dmf_on_cuda_only():
    cuda = resolve_fast_path(None, "gpu", True, dmf(), "adam")
    assert cuda == FastPathSettings(
        compile="cuda_graph", steps_per_call=32, first_layer="auto", dense_budget_mb=4096
    )
    assert resolve_fast_path(None, "cpu", True, dmf(), "adam") is None
    assert resolve_fast_path(None, "auto", False, dmf(), "adam") is None
    assert resolve_fast_path(None, "gpu", True, dmf(), "sgd") is None
    assert resolve_fast_path({"enabled": False}, "gpu", True, dmf(), "adam") is None
    on_cpu = resolve_fast_path({"enabled": True, "compile": True}, "cpu", False, dmf(), "adam")
    assert on_cpu is not None and on_cpu.compile == "true"


def test_enabled_true_refuses_what_it_cannot_train():
    with pytest.raises(ConfigError, match="model=dmf with optim.name=adam only"):
        resolve_fast_path({"enabled": True}, "cpu", False, LFM(3, 3, 4, 2, 0.1), "adam")
    with pytest.raises(ConfigError, match="cuda_graph needs a CUDA trainer"):
        resolve_fast_path({"enabled": True, "compile": "cuda_graph"}, "cpu", False, dmf(), "adam")
