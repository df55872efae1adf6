import math

import pytest
import torch

from deepmf.errors import ConfigError
from deepmf.losses import PointwiseLoss


def test_nce_targets_are_rating_over_max_rating():
    scores = torch.tensor([0.8, 0.3, 0.1])
    ratings = torch.tensor([5.0, 2.0, 0.0])  # two positives, one sampled negative
    loss = PointwiseLoss("nce", max_rating=5.0)(scores, ratings)
    targets = [1.0, 0.4, 0.0]
    expected = -sum(t * math.log(y) + (1 - t) * math.log(1 - y) for t, y in zip(targets, [0.8, 0.3, 0.1])) / 3
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_nce_divides_by_the_datas_max_rating_not_the_batchs():
    loss = PointwiseLoss("nce", max_rating=5.0)
    assert loss.targets(torch.tensor([4.0, 2.0, 0.0])).tolist() == pytest.approx([0.8, 0.4, 0.0])


def test_ce_targets_are_binary():
    scores = torch.tensor([0.8, 0.3, 0.1])
    ratings = torch.tensor([5.0, 2.0, 0.0])
    loss = PointwiseLoss("ce", max_rating=5.0)(scores, ratings)
    expected = -(math.log(0.8) + math.log(0.3) + math.log(0.9)) / 3
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_unknown_loss_is_rejected():
    with pytest.raises(ConfigError, match="loss.name must be 'nce' or 'ce'"):
        PointwiseLoss("mse", max_rating=5.0)
