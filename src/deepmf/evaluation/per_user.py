"""Per-user results of a run: the rank of each user's held-out item, so reports can pair methods user by user.

Every completed run writes ``per_user.npz`` (``numpy.savez_compressed``) into its run folder, for the
epoch validation selected (the weights that were tested; a fitted baseline: its one fit). Arrays, all
``int32`` and one entry per evaluated user, for each ``stage`` in ``val`` and ``test`` (``val_*`` only
when the run held out a validation rating):

- ``{stage}_users``: the user ids (the datamodule's indices), in evaluation order;
- ``{stage}_sampled``: the pessimistic rank of the held-out item among its sampled candidates
  (``data.eval_negatives``), 0 = first (``deepmf.evaluation.metrics.pessimistic_rank``: ties count
  against it);
- ``{stage}_full``: its rank among every item the user never interacted with (full ranking);

plus ``epoch`` (``int32`` scalar; -1 if unknown) and ``format`` (scalar, :data:`FORMAT_VERSION`).
HR@K of a user is ``rank < K``, NDCG@K is ``1 / log2(rank + 2)`` when ``rank < K`` (else 0): their means
over users are the run's ``metrics.json`` values. An ML-1M run's file is a few tens of KB.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepmf.io import write_atomic

FILENAME = "per_user.npz"
FORMAT_VERSION = 1
STAGES = ("val", "test")
PROTOCOLS = ("sampled", "full")


@dataclass(frozen=True)
class StageRanks:
    """One stage's per-user ranks: user ids and the held-out item's sampled and full ranks."""

    users: np.ndarray
    sampled: np.ndarray
    full: np.ndarray

    def __post_init__(self) -> None:
        if not (len(self.users) == len(self.sampled) == len(self.full)):
            raise ValueError(
                f"per-user arrays differ in length: users {len(self.users)}, sampled {len(self.sampled)}, "
                f"full {len(self.full)}"
            )

    def ranks(self, protocol: str) -> np.ndarray:
        """The ranks of ``protocol`` (``sampled`` or ``full``)."""
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
        return self.sampled if protocol == "sampled" else self.full


def hits(ranks: np.ndarray, k: int) -> np.ndarray:
    """Per-user HR@k: 1.0 where the held-out item is in the top ``k``."""
    return (np.asarray(ranks) < k).astype(np.float64)


def gains(ranks: np.ndarray, k: int) -> np.ndarray:
    """Per-user NDCG@k: ``1 / log2(rank + 2)`` in the top ``k``, else 0."""
    ranks = np.asarray(ranks, dtype=np.float64)
    return np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)


#: measure name -> per-user score from ranks.
MEASURES = {"hr": hits, "ndcg": gains}


def save_per_user(path: Path, stages: dict[str, StageRanks], epoch: int | None) -> None:
    """Write ``stages`` (``{"val": ..., "test": ...}``) to ``path`` atomically, as documented above."""
    arrays: dict[str, np.ndarray] = {
        "format": np.asarray(FORMAT_VERSION, dtype=np.int32),
        "epoch": np.asarray(-1 if epoch is None else epoch, dtype=np.int32),
    }
    for stage, ranks in stages.items():
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {', '.join(STAGES)}, got {stage!r}")
        arrays[f"{stage}_users"] = np.asarray(ranks.users, dtype=np.int32)
        arrays[f"{stage}_sampled"] = np.asarray(ranks.sampled, dtype=np.int32)
        arrays[f"{stage}_full"] = np.asarray(ranks.full, dtype=np.int32)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:  # a file object: savez would append .npz to a bare path
            np.savez_compressed(handle, **arrays)

    write_atomic(path, write)


@dataclass(frozen=True)
class PerUser:
    """A run's ``per_user.npz``: the stages it holds and the selected epoch."""

    stages: dict[str, StageRanks]
    epoch: int | None


def load_per_user(path: Path) -> PerUser:
    """Read a ``per_user.npz``; a damaged or foreign file is a ``ValueError`` naming it."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError) as exc:
        raise ValueError(f"{path}: not a readable per-user file ({exc})") from exc
    if int(arrays.get("format", -1)) != FORMAT_VERSION:
        raise ValueError(f"{path}: format {arrays.get('format')!r}, expected {FORMAT_VERSION}")
    stages = {}
    for stage in STAGES:
        keys = [f"{stage}_{part}" for part in ("users", "sampled", "full")]
        if all(key in arrays for key in keys):
            try:
                stages[stage] = StageRanks(*(arrays[key] for key in keys))
            except ValueError as exc:
                raise ValueError(f"{path}: {stage}: {exc}") from exc
    epoch = int(arrays["epoch"]) if "epoch" in arrays else -1
    return PerUser(stages, None if epoch < 0 else epoch)
