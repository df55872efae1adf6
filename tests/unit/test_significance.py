"""Paired tests, Holm, bootstrap intervals and the report's markers, on hand-made cases with known answers."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deepmf.evaluation.per_user import FILENAME, StageRanks, gains, hits, save_per_user
from deepmf.report.aggregate import aggregate, write_report
from deepmf.report.collect import find_jobs
from deepmf.report.significance import (
    INDISTINGUISHABLE,
    bootstrap_interval,
    holm,
    paired_p_value,
)
from tests.unit.test_report import DMF, make_run

USERS = 400


def test_identical_methods_give_p_one_and_an_interval_around_zero():
    scores = np.random.default_rng(0).random(USERS)
    assert paired_p_value(scores, scores.copy()) == 1.0
    low, high = bootstrap_interval(scores - scores)
    assert low <= 0.0 <= high


def test_noisy_equal_methods_have_an_interval_that_holds_zero():
    rng = np.random.default_rng(1)
    a, b = rng.random(USERS), rng.random(USERS)  # the same distribution
    low, high = bootstrap_interval(a - b)
    assert low < 0.0 < high
    assert paired_p_value(a, b) > 0.05


def test_a_method_that_wins_on_every_user_gets_a_tiny_p():
    rng = np.random.default_rng(2)
    base = rng.random(USERS) * 0.5
    better = base + 0.1 + rng.random(USERS) * 0.05
    assert paired_p_value(better, base) < 1e-50
    low, high = bootstrap_interval(better - base)
    assert 0.1 <= low < high <= 0.15
    # The same gain on every user: no spread, a certain difference.
    assert paired_p_value(base + 0.1, base) == 0.0


def test_bootstrap_interval_holds_the_mean_and_narrows_with_more_users():
    rng = np.random.default_rng(3)
    few, many = rng.random(100), rng.random(10_000)
    low, high = bootstrap_interval(few)
    assert low < few.mean() < high
    low_many, high_many = bootstrap_interval(many)
    assert high_many - low_many < (high - low) / 5


def test_holm_on_hand_made_p_values():
    # Sorted 0.01, 0.02, 0.03, 0.5 with m = 4: 0.04, 0.06, 0.06 (monotone), 0.5.
    assert holm([0.03, 0.01, 0.5, 0.02]) == pytest.approx([0.06, 0.04, 0.5, 0.06])
    assert holm([0.4, 0.9]) == pytest.approx([0.8, 0.9])
    assert holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])  # capped at 1
    adjusted = holm([math.nan, 0.01])
    assert math.isnan(adjusted[0]) and adjusted[1] == pytest.approx(0.01)  # NaN is not counted


def ranks_for(hit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ranks whose HR@10 per user is ``hit`` (a hit: rank 0..9, a miss: 10..99)."""
    return np.where(hit, rng.integers(0, 10, len(hit)), rng.integers(10, 100, len(hit)))


def make_method(root: Path, index: int, model: dict, loss: str, hit_rate: float, seed: int, shared=None):
    """A completed run whose per-user hits are drawn at ``hit_rate`` (or are ``shared``'s)."""
    rng = np.random.default_rng(100 * index + seed)
    users = np.arange(USERS)
    sampled = shared if shared is not None else ranks_for(rng.random(USERS) < hit_rate, rng)
    full = sampled * 10
    folder = root / str(index)
    metrics = {
        "test/hr@10": float(hits(sampled, 10).mean()),
        "test/ndcg@10": float(gains(sampled, 10).mean()),
        "test/full_hr@10": float(hits(full, 10).mean()),
        "test/full_ndcg@10": float(gains(full, 10).mean()),
    }
    make_run(folder, model, loss, "ml100k", seed, metrics, report="table2")
    save_per_user(folder / FILENAME, {"test": StageRanks(users, sampled, full)}, epoch=0)
    return sampled


def table2_sweep(root: Path) -> None:
    """NeuMF-p far behind; DMF-2-nce best; DMF-2-ce its copy but for two users who lose their hit, in
    each seed (slightly behind, not distinguishable)."""
    index = 0
    for seed in (0, 1):
        make_method(root, index, {"name": "neumf", "pretrain": True}, "ce", 0.2, seed)
        best = make_method(root, index + 1, {"name": "dmf", "layers": 2}, "nce", 0.8, seed)
        worse = best.copy()
        worse[np.flatnonzero(best < 10)[:2]] = 50
        make_method(root, index + 2, {"name": "dmf", "layers": 2}, "ce", 0.8, seed, shared=worse)
        index += 3


def test_markers_follow_the_tests(tmp_path):
    table2_sweep(tmp_path)
    report = aggregate(find_jobs(tmp_path))
    tests = report.significance
    clear = tests.comparison("ml100k", "test/hr@10", "DMF-2-nce", "NeuMF-p")
    assert clear.significant and clear.p_holm < 1e-20 and clear.difference > 0.5
    same = tests.comparison("ml100k", "test/hr@10", "DMF-2-ce", "DMF-2-nce")
    assert same.p > 0.05 and same.difference == pytest.approx(-2 / USERS) and not same.significant
    assert same.difference_low <= same.difference <= same.difference_high <= 0.0
    header, rows = report.table("sampled")
    cells = dict(zip(header, rows[0]))  # ML100k HR@10
    assert cells["DMF-2-ce"].endswith(INDISTINGUISHABLE)  # just behind the best: not distinguishable
    assert INDISTINGUISHABLE not in cells["NeuMF-p"]  # far behind
    assert cells["DMF-2-nce"].startswith("**")  # the best itself: bold, no marker
    assert INDISTINGUISHABLE not in cells["DMF-2-nce"]
    assert all("[" in cells[m] for m in ("NeuMF-p", "DMF-2-ce", "DMF-2-nce"))  # every cell: its interval
    text = report.markdown()
    assert "Significance" in text and "not significant" in text


def test_cell_interval_is_around_the_cell_mean(tmp_path):
    table2_sweep(tmp_path)
    report = aggregate(find_jobs(tmp_path))
    for method in ("NeuMF-p", "DMF-2-nce"):
        low, high = report.significance.interval("ml100k", method, "test/hr@10")
        assert low < report.cell("ml100k", method, "test/hr@10").mean < high


def test_significance_csv_is_written_beside_summary_csv(tmp_path):
    table2_sweep(tmp_path / "sweep")
    report = aggregate(find_jobs(tmp_path / "sweep"))
    write_report(report, tmp_path / "out")
    frame = pd.read_csv(tmp_path / "out" / "significance.csv")
    # 3 methods: 3 pairs x 2 measures x 2 protocols on one dataset.
    assert len(frame) == 12
    assert set(frame["protocol"]) == {"sampled", "full"}
    assert frame["p_holm"].ge(frame["p"]).all()
    assert frame["significant"].sum() == 8  # everything but DMF-2-ce vs DMF-2-nce


def test_runs_without_per_user_files_report_as_before(tmp_path):
    table2_sweep(tmp_path / "sweep")
    before = aggregate(find_jobs(tmp_path / "sweep")).table("sampled")
    for path in (tmp_path / "sweep").glob(f"*/{FILENAME}"):
        path.unlink()
    report = aggregate(find_jobs(tmp_path / "sweep"))
    header, rows = report.table("sampled")
    assert not any("[" in cell or INDISTINGUISHABLE in cell for row in rows for cell in row)
    assert [row[:2] for row in rows] == [row[:2] for row in before[1]]
    assert "Significance" not in report.markdown()
    write_report(report, tmp_path / "out")
    assert not (tmp_path / "out" / "significance.csv").exists()


def test_a_damaged_per_user_file_leaves_its_cell_untested(tmp_path, caplog):
    table2_sweep(tmp_path)
    (tmp_path / "0" / FILENAME).write_bytes(b"garbage")
    report = aggregate(find_jobs(tmp_path))
    assert report.significance.interval("ml100k", "NeuMF-p", "test/hr@10") is None
    assert report.significance.interval("ml100k", "DMF-2-nce", "test/hr@10") is not None
    assert "no per_user.npz" in report.markdown() and "NeuMF-p" in caplog.text + report.markdown()


def test_paper_claims_say_significant_or_not_with_the_p_value(tmp_path):
    from deepmf.report.results import claim_rows, write_results

    table2_sweep(tmp_path / "sweep")
    report = aggregate(find_jobs(tmp_path / "sweep"), "table2")
    (beats_neumf, nce_beats_ce) = claim_rows(report)
    assert "DMF-2-nce − NeuMF-p: NDCG@10 +" in beats_neumf[2]
    assert "HR@10" in beats_neumf[2] and "not significant" not in beats_neumf[2]
    assert beats_neumf[2].count(": significant (Holm p = ") == 2
    assert nce_beats_ce[2].count("not significant (Holm p = ") == 2
    write_results([("table2", tmp_path / "sweep")], tmp_path / "results.md")
    text = (tmp_path / "results.md").read_text()
    assert "paired test over users (Holm)" in text and "not significant (Holm p = " in text


def test_a_best_factor_claim_is_tested_against_the_runner_up(tmp_path):
    from deepmf.report.results import claim_rows

    rng = np.random.default_rng(5)
    for index, (ratio, rate) in enumerate(((1, 0.3), (5, 0.9), (10, 0.5))):
        sampled = ranks_for(rng.random(USERS) < rate, rng)
        folder = tmp_path / str(index)
        metrics = {
            "test/hr@10": float(hits(sampled, 10).mean()),
            "test/ndcg@10": float(gains(sampled, 10).mean()),
        }
        config = {"data": {"input": "rating", "neg_ratio": ratio, "eval_negatives": 100}}
        make_run(folder, *DMF, "ml100k", 0, metrics, report="table4", config=config)
        save_per_user(folder / FILENAME, {"test": StageRanks(np.arange(USERS), sampled, sampled)}, epoch=0)
    (row,) = claim_rows(aggregate(find_jobs(tmp_path), "table4"))
    assert "best neg. ratio 5" in row[1]
    assert "the claimed 5 is our best; vs runner-up 10" in row[2] and ", significant (Holm p" in row[2]


def test_cells_ranked_against_other_candidates_are_not_compared(tmp_path):
    table2_sweep(tmp_path)
    # One more method whose runs ranked 50 negatives, not 100: its users' candidates differ.
    rng = np.random.default_rng(9)
    sampled = ranks_for(rng.random(USERS) < 0.5, rng)
    folder = tmp_path / "other"
    metrics = {
        "test/hr@10": float(hits(sampled, 10).mean()),
        "test/ndcg@10": float(gains(sampled, 10).mean()),
    }
    config = {"data": {"input": "rating", "neg_ratio": 7, "eval_negatives": 50}}
    make_run(folder, {"name": "itempop"}, "nce", "ml100k", 0, metrics, report="table2", config=config)
    save_per_user(folder / FILENAME, {"test": StageRanks(np.arange(USERS), sampled, sampled)}, epoch=0)
    report = aggregate(find_jobs(tmp_path))
    tests = report.significance
    assert tests.comparison("ml100k", "test/hr@10", "ItemPop", "DMF-2-nce") is None
    assert tests.comparison("ml100k", "test/hr@10", "NeuMF-p", "DMF-2-nce") is not None
    assert tests.interval("ml100k", "ItemPop", "test/hr@10") is not None  # its own interval still holds
    assert "not compared, their runs ranked other candidates" in report.markdown()
