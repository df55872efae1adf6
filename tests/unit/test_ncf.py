"""NCF-format splits: reading published quirks, deduplication policy, validation, export round trip."""

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from deepmf.data.cli import build_datamodule, compose_config
from deepmf.data.export import main as export_main
from deepmf.data.ncf import NCFSplit, build_ncf_split, find_ncf_files
from deepmf.errors import DataError
from deepmf.models import ModelContext, build_model
from tests.runs import evaluate
from tests.synthetic import write_ml100k

# 3 users, items 0..7. Published quirks: user 0's list holds its test item (2) and a repeat (5);
# user 1's list holds an item it rated in training (1). Ratings have no timestamp (DeepCF style).
TRAIN = "0\t0\t5\n0\t1\t4\n0\t3\t3\n1\t1\t2\n1\t4\t5\n2\t6\t1\n"
TEST = "0\t2\t4\n1\t3\t5\n2\t7\t3\n"
NEGATIVE = "(0,2)\t4\t2\t5\t5\t6\n(1,3)\t1\t0\t2\n(2,7)\t0\t1\t2\t3\n"


def write_split(directory: Path, name: str = "toy", gz: bool = False, **texts: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    files = {"train.rating": TRAIN, "test.rating": TEST, "test.negative": NEGATIVE} | {
        key.replace("_", "."): value for key, value in texts.items()
    }
    for suffix, text in files.items():
        path = directory / f"{name}.{suffix}"
        if gz:
            with gzip.open(f"{path}.gz", "wt") as handle:
                handle.write(text)
        else:
            path.write_text(text)
    return directory


@pytest.mark.parametrize("gz", [False, True])
def test_candidates_are_deduplicated_and_known_items_kept_by_default(tmp_path, gz):
    split = build_ncf_split(find_ncf_files(write_split(tmp_path, gz=gz), "toy"), False, 0, False)
    assert (split.n_users, split.n_items) == (3, 8)
    assert split.test_items.tolist() == [2, 3, 7]
    assert split.test_ratings.tolist() == [4.0, 5.0, 3.0]
    assert split.eval_negatives.tolist() == [[4, 5, 6, -1], [1, 0, 2, -1], [0, 1, 2, 3]]
    assert split.max_rating == 5.0 and len(split.train_items) == 6


def test_known_negatives_can_be_dropped(tmp_path):
    split = build_ncf_split(find_ncf_files(write_split(tmp_path), "toy"), False, 0, True)
    assert split.eval_negatives.tolist() == [[4, 5, 6, -1], [0, 2, -1, -1], [0, 1, 2, 3]]


def test_validation_holds_out_one_training_rating_of_users_who_have_two(tmp_path):
    files = find_ncf_files(write_split(tmp_path), "toy")
    split = build_ncf_split(files, True, 0, False)
    assert split.val_items[2] == -1  # user 2 has a single training rating
    for user in (0, 1):
        train = set(split.train_items[split.train_users == user].tolist())
        assert split.val_items[user] in {0: {0, 1, 3}, 1: {1, 4}}[user] - train
    assert len(split.train_items) == 4
    again = build_ncf_split(files, True, 0, False)
    assert np.array_equal(again.val_items, split.val_items)


def test_four_column_files_and_timestamps_are_read(tmp_path):
    train = "".join(f"{line}\t{900 + n}\n" for n, line in enumerate(TRAIN.splitlines()))
    split = build_ncf_split(find_ncf_files(write_split(tmp_path, train_rating=train), "toy"), False, 0, False)
    assert len(split.train_items) == 6 and split.train_ratings.max() == 5.0


def test_mismatched_negative_file_names_the_line(tmp_path):
    bad = NEGATIVE.replace("(1,3)", "(1,4)")
    with pytest.raises(DataError, match="line 2 does not match line 2"):
        build_ncf_split(find_ncf_files(write_split(tmp_path, test_negative=bad), "toy"), False, 0, False)


def test_missing_train_file_is_named(tmp_path):
    write_split(tmp_path)
    (tmp_path / "toy.train.rating").unlink()
    with pytest.raises(DataError, match=r"toy.train.rating \(or .gz\) not found"):
        find_ncf_files(tmp_path, "toy")


def test_export_then_import_reproduces_the_metrics_of_the_same_model(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPMF_DATA_DIR", str(tmp_path / "data"))
    write_ml100k(tmp_path / "data", n_users=40, n_items=120, seed=5)
    overrides = ["data=ml100k", "data.eval_negatives=30", f"paths.cache_dir={tmp_path}/cache"]
    assert export_main([*overrides, "--format", "ncf", str(tmp_path / "ncf")]) == 0
    ours = build_datamodule(overrides)
    cfg = compose_config(["model.user_first_width=32", "model.item_first_width=32", "model.factors=8"])
    context = ModelContext(ours.n_users, ours.n_items, ours.train_matrix(), ours.max_rating)
    torch.manual_seed(0)
    model = build_model(cfg.model, context)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step, (users, items, ratings) in enumerate(ours.train_dataloader()):
        loss = torch.nn.functional.binary_cross_entropy(model(users, items), (ratings > 0).float())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step == 20:
            break
    imported = NCFSplit(name="ml100k", dir=str(tmp_path / "ncf"), cache_dir=None)
    imported.setup()
    assert torch.equal(imported.train_matrix().dense(), ours.train_matrix().dense())
    assert imported.info.ratings == ours.info.ratings
    for stage in ("val", "test"):
        expected = evaluate(model, ours, stage)
        assert evaluate(model, imported, stage) == expected
        assert 0 < expected[f"{stage}/hr@10"] < 1  # a real ranking, not a degenerate one
