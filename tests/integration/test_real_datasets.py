"""Checks on the real files in DEEPMF_DATA_DIR (../shared/data); skipped where they are absent."""

import os
from pathlib import Path

import pytest

from deepmf.data.stats import table1_row

DATA = Path(os.environ.get("DEEPMF_DATA_DIR", Path(__file__).resolve().parents[3] / "shared" / "data"))
pytestmark = pytest.mark.slow


def stats(tmp_path, *overrides):
    return table1_row([*overrides, f"paths.data_dir={DATA}", f"paths.cache_dir={tmp_path}"])


@pytest.mark.skipif(not (DATA / "amusic-dmf").is_dir(), reason="no Amusic file")
def test_amusic_matches_the_papers_table1(tmp_path):
    row = stats(tmp_path, "data=amusic")
    assert (row["users"], row["items"], row["ratings"]) == (844, 18_813, 46_468)
    assert row["notes"] == []


@pytest.mark.skipif(not (DATA / "amusic-deepcf").is_dir(), reason="no DeepCF AMusic files")
def test_deepcf_amusic_has_99_candidates_per_user(tmp_path):
    from deepmf.data.ncf import NCFSplit

    data = NCFSplit(name="AMusic", dir=str(DATA / "amusic-deepcf"), cache_dir=None)
    data.setup()
    assert (data.info.users, data.info.items, data.info.ratings) == (1776, 12_929, 46_087)
    per_user = (data.split.eval_negatives >= 0).sum(1)
    # 99 given; 18 lists held the test item itself, which is removed.
    assert (per_user == 99).sum() == 1776 - 18 and (per_user == 98).sum() == 18
