import math

import pytest
import torch

from deepmf.evaluation.metrics import hit_rate, ndcg, pessimistic_rank, ranking_metrics


def test_rank_counts_competitors_scoring_at_least_the_target():
    target = torch.tensor([0.9, 0.5, 0.1])
    competitors = torch.tensor([[0.1, 0.2, 0.3], [0.6, 0.5, 0.4], [0.2, 0.3, 0.4]])
    assert pessimistic_rank(target, competitors).tolist() == [0, 2, 3]


def test_ties_count_against_the_target():
    # A collapsed model (all scores equal) must rank the target last, not first.
    target = torch.full((2,), 1e-6)
    competitors = torch.full((2, 100), 1e-6)
    ranks = pessimistic_rank(target, competitors)
    assert ranks.tolist() == [100, 100]
    assert hit_rate(ranks, 10) == 0.0
    assert ndcg(ranks, 10) == 0.0


def test_hit_rate_and_ndcg_by_hand():
    ranks = torch.tensor([0, 1, 9, 10, 50])
    assert hit_rate(ranks, 10) == pytest.approx(3 / 5)
    expected = (1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(11)) / 5
    assert ndcg(ranks, 10) == pytest.approx(expected)
    assert hit_rate(ranks, 1) == pytest.approx(1 / 5)


def test_ranking_metrics_names():
    metrics = ranking_metrics(torch.tensor([0, 20]), [5, 10], "test/full_")
    assert set(metrics) == {"test/full_hr@5", "test/full_ndcg@5", "test/full_hr@10", "test/full_ndcg@10"}
    assert metrics["test/full_hr@10"] == pytest.approx(0.5)
