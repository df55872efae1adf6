"""The Amazon filter on a synthetic file in the 2014 "ratings only" format, against hand-computed results."""

from pathlib import Path

import pytest

from deepmf.data.amazon import AmazonRatings
from deepmf.data.fields import CSV_FIELDS
from deepmf.data.filtering import min_count_filter
from deepmf.data.interactions import drop_duplicate_pairs
from deepmf.data.raw import parse_ratings
from deepmf.errors import ConfigError


def write_amazon_csv(path: Path) -> Path:
    """``user,item,rating,timestamp``, no header, string ids, built so that the two modes differ.

    Block 1: users U1..U5 rate items I01..I20 (20 each; each item 5). Item Z: rated by U1..U4 and U6.
    U6 also rates I01..I18 (19 ratings: too few). Item X: rated by U1 only (1 rating).
    Block 2: users V1..V5 rate items J01..J20 (a separate block, so users have items left to sample).
    Plus one duplicate line (U1, I01): pairs are counted once.

    once (items >= 5, then users >= 20): X goes (1 rating), Z stays (5); then U6 goes (Z + I01..I18 =
    19 ratings) -> users U1..U5, V1..V5; items I01..I20, Z, J01..J20; ratings 5*20 + 4 (Z by U1..U4)
    + 5*20 = 204. Z is left with 4 ratings: below 5.
    until_stable: a second pass drops Z (4 < 5); U1..U4 keep 20 each: 10 users / 40 items / 200.
    """
    rows = []
    for u in range(1, 6):
        rows += [(f"U{u}", f"I{i:02d}") for i in range(1, 21)]
        rows += [(f"V{u}", f"J{i:02d}") for i in range(1, 21)]
    rows += [(f"U{u}", "Z") for u in (1, 2, 3, 4, 6)]
    rows += [("U6", f"I{i:02d}") for i in range(1, 19)]
    rows += [("U1", "X"), ("U1", "I01")]
    lines = [
        f"{user},{item},{1 + n % 5}.0,{1_000_000_000 + n * 86_400}\n" for n, (user, item) in enumerate(rows)
    ]
    path.write_text("".join(lines))
    return path


EXPECTED = {"once": (10, 41, 204), "until_stable": (10, 40, 200)}


@pytest.mark.parametrize("mode", ["once", "until_stable"])
def test_filter_matches_the_hand_computed_result(tmp_path, mode):
    raw = drop_duplicate_pairs(parse_ratings(write_amazon_csv(tmp_path / "r.csv"), ",", fields=CSV_FIELDS))
    kept = min_count_filter(raw, min_user=20, min_item=5, mode=mode)
    users, items = set(kept.users.tolist()), set(kept.items.tolist())
    assert (len(users), len(items), len(kept)) == EXPECTED[mode]
    assert "U6" not in users and "X" not in items
    assert ("Z" in items) == (mode == "once")


@pytest.mark.parametrize("mode", ["once", "until_stable"])
def test_amazon_datamodule_reports_the_filtered_counts(tmp_path, mode):
    path = write_amazon_csv(tmp_path / "ratings_Digital_Music.csv")
    data = AmazonRatings(ratings_path=str(path), filter=mode, eval_negatives=10, cache_dir=None)
    data.setup()
    assert (data.info.users, data.info.items, data.info.ratings) == EXPECTED[mode]
    assert data.name == "amazon-Digital_Music"


def test_filter_options_are_checked():
    with pytest.raises(ConfigError, match="data.filter must be one of"):
        AmazonRatings(filter="twice")
    with pytest.raises(ConfigError, match="data.category must be one of"):
        AmazonRatings(category="Books")
