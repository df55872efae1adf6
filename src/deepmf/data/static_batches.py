"""An epoch of training pairs as fixed-shape step batches, on the training device, for the fast path.

The pairs are exactly those of :class:`~deepmf.data.batches.TrainBatches` (every positive plus
``neg_ratio`` negatives that are never one of the user's training items, shuffled; the same seed gives the
same pairs), cut into ``n_steps`` rows of ``batch_size`` pairs: each row is one paper mini-batch. The last,
partial batch is padded with zero-weight pairs (user 0, item 0, rating 0), so every step has the same
shapes and a step's loss is the weighted mean over its real pairs. Built with tensor ops only.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from deepmf.data.batches import TrainBatches


@dataclass(frozen=True)
class StaticEpoch:
    """One epoch's pairs as ``(n_steps, batch_size)`` tensors; ``weights`` is 1 for a pair, 0 for padding."""

    users: torch.Tensor
    items: torch.Tensor
    ratings: torch.Tensor
    weights: torch.Tensor

    @property
    def n_steps(self) -> int:
        return self.users.shape[0]

    def steps(self, start: int, stop: int) -> StaticChunk:
        """Steps ``start`` to ``stop - 1`` (views, no copy)."""
        return StaticChunk(
            self.users[start:stop], self.items[start:stop], self.ratings[start:stop], self.weights[start:stop]
        )


@dataclass  # not frozen: Lightning's device transfer rebuilds it field by field
class StaticChunk:
    """Consecutive steps of a :class:`StaticEpoch`, what one Lightning ``training_step`` call runs."""

    users: torch.Tensor
    items: torch.Tensor
    ratings: torch.Tensor
    weights: torch.Tensor

    def __len__(self) -> int:
        return self.users.shape[0]


def static_epoch(
    users: torch.Tensor, items: torch.Tensor, ratings: torch.Tensor, batch_size: int
) -> StaticEpoch:
    """The pairs in order, ``batch_size`` per step, the last step padded with zero-weight pairs."""
    n_pairs = len(users)
    n_steps = max(1, math.ceil(n_pairs / batch_size))
    padding = n_steps * batch_size - n_pairs

    def padded(values: torch.Tensor) -> torch.Tensor:
        return torch.cat([values, values.new_zeros(padding)]).view(n_steps, batch_size)

    weights = torch.ones(n_pairs, dtype=ratings.dtype, device=ratings.device)
    return StaticEpoch(padded(users), padded(items), padded(ratings), padded(weights))


class StaticTrainBatches:
    """What Lightning iterates on the fast path: each item is ``steps_per_call`` steps of the epoch.

    ``len()`` is the number of Lightning calls per epoch; :attr:`n_steps` the optimiser steps.
    """

    def __init__(self, batches: TrainBatches, steps_per_call: int) -> None:
        if steps_per_call < 1:
            raise ValueError(f"steps_per_call must be >= 1, got {steps_per_call}")
        self.batches = batches
        self.steps_per_call = steps_per_call

    @property
    def n_steps(self) -> int:
        return len(self.batches)

    @property
    def n_pairs(self) -> int:
        return self.batches.n_pairs

    def __len__(self) -> int:
        return math.ceil(self.n_steps / self.steps_per_call)

    def epoch(self, epoch: int) -> StaticEpoch:
        return static_epoch(*self.batches.epoch_pairs(epoch), self.batches.batch_size)

    def __iter__(self) -> Iterator[StaticChunk]:
        epoch = self.epoch(self.batches.current_epoch())
        for start in range(0, epoch.n_steps, self.steps_per_call):
            yield epoch.steps(start, start + self.steps_per_call)
