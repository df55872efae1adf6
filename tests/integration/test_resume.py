"""Resume and determinism on tiny synthetic data, in-process (CPU).

The "kill" is an exception raised from ``training_step`` in the middle of epoch 1, after epoch 0's
``last.ckpt`` was written. That is what a SIGKILL or a preempted node leaves behind: the checkpoints of
finished epochs (written atomically) and lost work in the epoch it died in. Nothing of the failed process
is reused but its checkpoint folder; the resumed run is a fresh ``train()`` with ``resume=<last.ckpt>``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from deepmf.errors import ConfigError
from deepmf.evaluation.per_user import FILENAME as PER_USER_FILE
from deepmf.evaluation.per_user import load_per_user
from deepmf.training.module import RecommenderModule
from tests.runs import evaluate_checkpoint, run
from tests.synthetic import write_ml100k

EPOCHS = ("trainer.max_epochs=3", "optim.lr=0.01")


class Killed(Exception):
    """Stands for the process being killed."""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("resume")
    write_ml100k(root / "data", n_users=30, n_items=150, seed=4)  # best epoch 0 of 3 (by a margin)
    return root / "data"


@pytest.fixture(scope="module")
def uninterrupted(data_dir: Path) -> dict[str, Any]:
    return run(data_dir, data_dir.parent / "full", *EPOCHS)


def checkpoints(record: dict[str, Any]) -> Path:
    return Path(record["best_checkpoint"]).parent


def val_history(record: dict[str, Any]) -> list[tuple[int, float]]:
    return [(row["epoch"], row["val/ndcg@10"]) for row in record["history"]]


def test_history_keeps_every_epoch_after_testing_the_best(uninterrupted):
    # Testing restores the best checkpoint's callback state; epochs after the best must survive it.
    assert uninterrupted["best_epoch"] < 2, "pick data where the best epoch is not the last"
    assert [row["epoch"] for row in uninterrupted["history"]] == [0, 1, 2]
    assert uninterrupted["epochs_trained"] == 3


def test_last_checkpoint_is_the_last_epoch_not_the_best(uninterrupted):
    last = torch.load(checkpoints(uninterrupted) / "last.ckpt", weights_only=True)
    assert last["epoch"] == 2 and uninterrupted["best_epoch"] < 2
    assert [row["epoch"] for row in last["callbacks"]["EpochHistory"]["rows"]] == [0, 1, 2]


def test_reported_test_metrics_are_the_best_checkpoints_never_the_last(uninterrupted):
    folder = checkpoints(uninterrupted)
    best = evaluate_checkpoint(
        uninterrupted, folder / f"best-epoch={uninterrupted['best_epoch']}.ckpt", "test"
    )
    last = evaluate_checkpoint(uninterrupted, folder / "last.ckpt", "test")
    reported = {k: v for k, v in uninterrupted["metrics"].items() if k.startswith("test/")}
    assert reported == {k: v for k, v in best.items() if k in reported}
    assert best["test/ndcg@10"] != last["test/ndcg@10"], "pick data where the two checkpoints differ"


def test_resume_with_other_training_settings_is_refused(data_dir, uninterrupted):
    last = checkpoints(uninterrupted) / "last.ckpt"
    with pytest.raises(
        ConfigError, match=r"loss\.name='nce' there, 'ce' here.*optim\.lr=0\.01 there, 0\.02 here"
    ):
        run(
            data_dir,
            data_dir.parent / "other",
            "trainer.max_epochs=3",
            "optim.lr=0.02",
            "loss=ce",
            f"resume={last}",
        )


def test_resume_on_other_data_is_refused(data_dir, uninterrupted, tmp_path):
    other = tmp_path / "other-data"
    write_ml100k(other, n_users=30, n_items=150, seed=5)
    last = checkpoints(uninterrupted) / "last.ckpt"
    with pytest.raises(ConfigError, match=r"dataset\.sha256='[0-9a-f]{64}' there, '[0-9a-f]{64}' here"):
        run(other, tmp_path / "run", *EPOCHS, f"resume={last}")


def test_a_finished_run_can_be_extended_by_more_epochs(data_dir, uninterrupted):
    # A copy: the resumed run writes beside the checkpoint it resumes from.
    folder = shutil.copytree(checkpoints(uninterrupted), data_dir.parent / "longer-checkpoints")
    last = folder / "last.ckpt"
    longer = run(
        data_dir, data_dir.parent / "longer", "trainer.max_epochs=4", "optim.lr=0.01", f"resume={last}"
    )
    assert [row["epoch"] for row in longer["history"]] == [0, 1, 2, 3]
    assert val_history(longer)[:3] == val_history(uninterrupted)


def test_a_resume_from_a_moved_folder_still_tests_the_epoch_validation_chose(tmp_path):
    write_ml100k(tmp_path / "data", n_users=30, n_items=150, seed=0)
    settings = ("optim.lr=0.1",)  # best epoch 0, by a margin that the extra epoch does not close
    first = run(tmp_path / "data", tmp_path / "first", "trainer.max_epochs=3", *settings)
    moved = shutil.copytree(checkpoints(first), tmp_path / "moved")
    longer = run(
        tmp_path / "data",
        tmp_path / "longer",
        "trainer.max_epochs=4",
        *settings,
        f"resume={moved / 'last.ckpt'}",
    )
    # last.ckpt names the old folder, so Lightning forgets the best score and would call epoch 3 the best.
    assert longer["best_epoch"] == first["best_epoch"] < 3
    tested = Path(longer["best_checkpoint"])
    assert tested == moved / f"best-epoch={longer['best_epoch']}.ckpt"
    reported = {k: v for k, v in longer["metrics"].items() if k.startswith("test/")}
    direct = evaluate_checkpoint(longer, tested, "test")
    assert reported == {k: v for k, v in direct.items() if k in reported}


def test_same_seed_gives_identical_metrics(data_dir, uninterrupted):
    again = run(data_dir, data_dir.parent / "again", *EPOCHS)
    assert again["metrics"] == uninterrupted["metrics"]
    assert val_history(again) == val_history(uninterrupted)


def killed_in_epoch_1(data_dir: Path, folder: Path, monkeypatch, *overrides: str) -> Path:
    """Run until the second step of epoch 1 and die there; return the ``last.ckpt`` left behind."""
    step = RecommenderModule.training_step

    def dies_in_epoch_1(self, batch, batch_idx):
        if self.current_epoch == 1 and batch_idx == 1:
            raise Killed
        return step(self, batch, batch_idx)

    with monkeypatch.context() as patch:
        patch.setattr(RecommenderModule, "training_step", dies_in_epoch_1)
        with pytest.raises(Killed):
            run(data_dir, folder, *overrides)
    last = folder / "checkpoints" / "last.ckpt"
    assert last.is_file()
    return last


def test_killed_run_resumes_to_the_same_test_metrics(data_dir, uninterrupted, monkeypatch):
    last = killed_in_epoch_1(data_dir, data_dir.parent / "killed", monkeypatch, *EPOCHS)

    resumed = run(data_dir, data_dir.parent / "resumed", *EPOCHS, f"resume={last}")
    assert resumed["status"] == "completed"
    # The restored EpochHistory holds epoch 0; epochs 1 and 2 are retrained with the same negatives.
    assert val_history(resumed) == val_history(uninterrupted)
    assert resumed["best_epoch"] == uninterrupted["best_epoch"]
    assert resumed["metrics"] == uninterrupted["metrics"]
    assert any(key.startswith("test/") for key in resumed["metrics"])
    # Checkpoints continue beside last.ckpt, where the restored best score applies: still one best.
    assert Path(resumed["best_checkpoint"]).parent == last.parent.resolve()
    assert len(list(last.parent.glob("best-*.ckpt"))) == 1
    # The best epoch (0) was trained before the kill: its per-user validation ranks came back with the
    # checkpoint, so per_user.npz is the uninterrupted run's.
    full, again = (load_per_user(data_dir.parent / name / PER_USER_FILE) for name in ("full", "resumed"))
    assert again.epoch == full.epoch == resumed["best_epoch"] and set(again.stages) == {"val", "test"}
    for stage in ("val", "test"):
        assert again.stages[stage].sampled.tolist() == full.stages[stage].sampled.tolist()
        assert again.stages[stage].full.tolist() == full.stages[stage].full.tolist()


def test_a_run_killed_with_w1_in_blocks_resumes_with_other_blocks(data_dir, monkeypatch):
    """W1's column blocks are a memory layout: a run killed with 4 blocks per tower resumes with 2 (the
    checkpoint holds W1 as the matrix; Adam's moments are re-blocked on load) and ends where the
    uninterrupted 4-block run ends, up to float32 rounding."""
    four_blocks = (*EPOCHS, "model.first_layer_block=8")  # the towers are 32 wide in these tests
    reference = run(data_dir, data_dir.parent / "blocks-reference", *four_blocks)
    last = killed_in_epoch_1(data_dir, data_dir.parent / "blocks-killed", monkeypatch, *four_blocks)
    assert torch.load(last, weights_only=False)["state_dict"]["model.user_tower.first"].dim() == 2

    resumed = run(
        data_dir, data_dir.parent / "blocks-resumed", *EPOCHS, "model.first_layer_block=16", f"resume={last}"
    )
    assert resumed["best_epoch"] == reference["best_epoch"]
    for (epoch, got), (_, expected) in zip(val_history(resumed), val_history(reference), strict=True):
        assert got == pytest.approx(expected, rel=1e-4), epoch
    assert resumed["metrics"] == pytest.approx(reference["metrics"], rel=1e-4)


def test_optim_name_reaches_the_trained_optimizer(data_dir, tmp_path):
    for name, state_key in (("sgd", "momentum"), ("adam", "betas")):
        record = run(data_dir, tmp_path / name, "trainer.max_epochs=1", f"optim.name={name}")
        last = torch.load(checkpoints(record) / "last.ckpt", weights_only=True)
        assert state_key in last["optimizer_states"][0]["param_groups"][0], name


def test_a_run_into_a_used_folder_tests_its_own_weights(data_dir, tmp_path):
    run(data_dir, tmp_path / "used", "trainer.max_epochs=1", "optim.lr=0.01")
    again = run(data_dir, tmp_path / "used", "trainer.max_epochs=1", "optim.lr=0.05")
    fresh = run(data_dir, tmp_path / "fresh", "trainer.max_epochs=1", "optim.lr=0.05")
    assert again["metrics"] == fresh["metrics"]
    assert sorted(p.name for p in checkpoints(again).iterdir()) == ["best-epoch=0.ckpt", "last.ckpt"]
