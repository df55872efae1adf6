"""Iterables that Lightning consumes as data loaders, built on the training device with tensor ops.

No ``Dataset.__getitem__`` and no per-sample Python: an epoch's pairs are sampled and shuffled as whole
tensors, and each batch is a slice of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch

from deepmf.data.matrix import SparseRows, bag_of
from deepmf.data.sampling import training_pairs

TrainBatch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def epoch_generator(seed: int, epoch: int, device: torch.device) -> torch.Generator:
    """A generator that depends only on (seed, epoch): a resumed run draws what an uninterrupted one did."""
    generator = torch.Generator(device=device)
    generator.manual_seed(seed * 1_000_003 + epoch)
    return generator


class TrainBatches:
    """All positives plus ``neg_ratio`` negatives each, re-sampled per epoch (or once), shuffled, batched."""

    def __init__(
        self,
        users: torch.Tensor,
        items: torch.Tensor,
        ratings: torch.Tensor,
        n_items: int,
        neg_ratio: int,
        resample: bool,
        batch_size: int,
        seed: int,
        current_epoch: Callable[[], int],
    ) -> None:
        self.users, self.items, self.ratings = users, items, ratings
        self.positive_keys = torch.unique(users * n_items + items)
        self.n_items = n_items
        self.neg_ratio = neg_ratio
        self.resample = resample
        self.batch_size = batch_size
        self.seed = seed
        self.current_epoch = current_epoch

    @property
    def n_pairs(self) -> int:
        return len(self.users) * (1 + self.neg_ratio)

    def __len__(self) -> int:
        return math.ceil(self.n_pairs / self.batch_size)

    def epoch_pairs(self, epoch: int) -> TrainBatch:
        """The shuffled (users, items, ratings) of one epoch; negatives have rating 0."""
        device = self.users.device
        # Algorithm 1 samples negatives once before the epoch loop; the common practice re-samples.
        sample_epoch = epoch if self.resample else 0
        users, items, ratings = training_pairs(
            self.users,
            self.items,
            self.ratings,
            self.positive_keys,
            self.n_items,
            self.neg_ratio,
            epoch_generator(self.seed, sample_epoch, device),
        )
        order = torch.randperm(
            len(users), generator=epoch_generator(self.seed + 1, epoch, device), device=device
        )
        return users[order], items[order], ratings[order]

    def __iter__(self) -> Iterator[TrainBatch]:
        users, items, ratings = self.epoch_pairs(self.current_epoch())
        for start in range(0, len(users), self.batch_size):
            stop = start + self.batch_size
            yield users[start:stop], items[start:stop], ratings[start:stop]


class EvalBatches:
    """Chunks of users with their target item, sampled negatives and known items (for full ranking).

    ``negatives`` may be ragged: rows padded with -1 at the end (imported NCF candidate lists differ in
    length once deduplicated). Padding is trimmed per chunk, and ``rank_batch`` ignores what remains.
    ``users`` are the users to evaluate (all by default); their ids index ``targets`` and ``negatives``.
    """

    def __init__(
        self,
        targets: torch.Tensor,
        negatives: torch.Tensor,
        known: SparseRows,
        chunk_size: int,
        users: torch.Tensor | None = None,
    ) -> None:
        self.targets, self.negatives, self.known = targets, negatives, known
        self.chunk_size = chunk_size
        self.users = users if users is not None else torch.arange(len(targets), device=targets.device)
        self.ragged = bool((negatives < 0).any())

    def __len__(self) -> int:
        return math.ceil(len(self.users) / self.chunk_size)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        for start in range(0, len(self.users), self.chunk_size):
            users = self.users[start : start + self.chunk_size]
            negatives = self.negatives[users]
            if self.ragged:
                # Columns that are padding for every user of the chunk need not be scored at all.
                negatives = negatives[:, : int((negatives >= 0).sum(1).max())]
            known_items, offsets, _ = self.known.gather(users)
            known_rows = bag_of(offsets, len(known_items))
            yield {
                "users": users,
                "targets": self.targets[users],
                "negatives": negatives,
                "known_rows": known_rows,
                "known_items": known_items,
            }
