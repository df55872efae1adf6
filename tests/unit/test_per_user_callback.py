"""PerUserRanks: the validation ranks of each epoch travel in checkpoints, so a resumed run still knows
those of a best epoch trained before the resume."""

from __future__ import annotations

import io

import torch

from deepmf.training.callbacks import PerUserRanks


def ranks(offset: int) -> dict[str, torch.Tensor]:
    users = torch.arange(5, dtype=torch.int32)
    return {"users": users, "sampled": users + offset, "full": users * 10 + offset}


def test_state_survives_a_weights_only_checkpoint_and_merges_with_later_epochs():
    before = PerUserRanks()
    before.val_by_epoch = {0: ranks(0), 1: ranks(1)}
    buffer = io.BytesIO()
    torch.save({"callbacks": {"PerUserRanks": before.state_dict()}}, buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)["callbacks"]["PerUserRanks"]  # as SafeCheckpointIO loads

    resumed = PerUserRanks()  # a resumed run: a fresh callback, then epochs 2.. trained after the restore
    resumed.load_state_dict(state)
    resumed.val_by_epoch[2] = ranks(2)
    resumed.load_state_dict(state)  # test(ckpt_path=best) restores again: later epochs must stay
    assert sorted(resumed.val_by_epoch) == [0, 1, 2]
    resumed.test = ranks(7)
    stages = resumed.stages(1)  # the best epoch was trained before the resume
    assert stages["val"].sampled.tolist() == [1, 2, 3, 4, 5]
    assert stages["test"].full.tolist() == [7, 17, 27, 37, 47]
    assert set(resumed.stages(None)) == {"test"}  # no selected epoch: validation unknown
