"""EpochHistory keeps every epoch when the best checkpoint is restored for testing."""

from deepmf.training.callbacks import EpochHistory


def test_restoring_an_earlier_checkpoint_keeps_the_full_history():
    history = EpochHistory()
    history.rows = [{"epoch": e} for e in range(4)]
    history.load_state_dict({"rows": [{"epoch": 0}]})  # trainer.test(ckpt_path="best"), best epoch 0
    assert [row["epoch"] for row in history.rows] == [0, 1, 2, 3]


def test_resuming_restores_the_history():
    history = EpochHistory()
    history.load_state_dict({"rows": [{"epoch": 0}, {"epoch": 1}]})
    assert [row["epoch"] for row in history.rows] == [0, 1]
