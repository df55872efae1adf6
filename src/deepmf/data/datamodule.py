"""The shared LightningDataModule: raw file -> cached leave-one-out split -> on-device batches."""

from __future__ import annotations

import hashlib
import json
import logging
from abc import abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch

from deepmf.data.batches import EvalBatches, TrainBatches
from deepmf.data.download import sha256_of
from deepmf.data.interactions import drop_duplicate_pairs, drop_sparse_users, to_interactions
from deepmf.data.matrix import SparseRows, rating_matrix
from deepmf.data.paths import file_present
from deepmf.data.raw import RawRatings, check_rating_scale
from deepmf.data.split import SPLIT_VERSION, LeaveOneOutSplit, leave_one_out
from deepmf.data.static_batches import StaticTrainBatches
from deepmf.errors import ConfigError, DataError
from deepmf.io import locked

log = logging.getLogger(__name__)

#: Scores of ``chunk x n_items`` floats are materialised for full ranking; this bounds them (64 MB).
EVAL_SCORES_PER_CHUNK = 1 << 24


@dataclass(frozen=True)
class DatasetInfo:
    """What a run was trained on: logged and written into metrics.json."""

    name: str
    source: str
    sha256: str
    users: int
    items: int
    ratings: int
    notes: tuple[str, ...] = ()
    policy: dict[str, int] = field(default_factory=dict)  # what the data policies changed (POLICY_COUNTS)

    @property
    def density(self) -> float:
        return self.ratings / (self.users * self.items)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "sha256": self.sha256,
            "users": self.users,
            "items": self.items,
            "ratings": self.ratings,
            "density": round(self.density, 6),
            "notes": list(self.notes),
            "policy": dict(self.policy),
        }


class FullBatch:
    """A loader of one batch (not a list: Lightning reads a list as several loaders)."""

    def __init__(self, users: torch.Tensor, items: torch.Tensor, ratings: torch.Tensor) -> None:
        self.batch = (users, items, ratings)

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        yield self.batch


class InteractionDataModule(pl.LightningDataModule):
    """Base of every dataset: subclasses only say how to find and parse their raw file.

    Args:
        data_dir: where raw files are looked for (``DEEPMF_DATA_DIR`` by default) and downloaded to.
        ratings_path: an explicit raw file, overriding the lookup.
        cache_dir: where the split is saved and reused (keyed by the file's sha256 and split settings).
        neg_ratio: sampled negatives per training positive (paper: 7 in Table 2).
        negative_sampling: ``resample`` every epoch, or ``once`` before training (paper's Algorithm 1).
        eval_negatives: sampled negatives ranked against each held-out item (paper: 100).
        validation: hold out one random interaction per user for model selection.
        input: ``rating`` (Eq. 2, Y_ij = rating) or ``binary`` (Eq. 1, Y_ij = 1).
        split_seed: seeds the validation item and evaluation negatives; shared by every model and seed.
        seed: seeds training negatives and shuffling (the run's seed).
        batch_size: training pairs per step (paper: 256).
        rating_scale: ``[lowest, highest]`` rating the dataset allows (MovieLens: ``[1, 5]``); a rating
            outside it is an error naming the line. ``None`` only requires ratings > 0.
    """

    name = "interactions"

    def __init__(
        self,
        data_dir: str | None = None,
        ratings_path: str | None = None,
        cache_dir: str | None = None,
        neg_ratio: int = 7,
        negative_sampling: str = "resample",
        eval_negatives: int = 100,
        validation: bool = True,
        input: str = "rating",
        split_seed: int = 0,
        seed: int = 0,
        batch_size: int = 256,
        rating_scale: list[float] | None = None,
    ) -> None:
        super().__init__()
        check_data_options(neg_ratio, negative_sampling, eval_negatives, input, batch_size)
        check_rating_scale_option(rating_scale)
        self.rating_scale = [float(v) for v in rating_scale] if rating_scale is not None else None
        self.data_dir = data_dir
        self.ratings_path = ratings_path
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.neg_ratio = neg_ratio
        self.resample = negative_sampling == "resample"
        self.eval_negatives = eval_negatives
        self.validation = validation
        self.input = input
        self.split_seed = split_seed
        self.seed = seed
        self.batch_size = batch_size
        self.split: LeaveOneOutSplit | None = None
        self.info: DatasetInfo | None = None
        self._device_tensors: dict[str, Any] = {}
        #: Set by the run for models fitted without gradients (closed form, ALS): every epoch is then
        #: one batch of all training positives instead of thousands of sampled-pair batches.
        self.full_batch = False
        #: Set by the run on the fast path (``fast_path``): each loader item is that many fixed-shape steps.
        self.steps_per_call: int | None = None

    # --- what subclasses provide -------------------------------------------------------------------

    @abstractmethod
    def raw_file(self) -> Path:
        """Locate (or download) the raw ratings file."""

    @abstractmethod
    def parse(self, path: Path) -> RawRatings:
        """Parse the raw file."""

    def describe(self, path: Path, sha256: str, split: LeaveOneOutSplit) -> tuple[str, ...]:
        """Notes about the file (e.g. that it is not the official release); none by default."""
        return ()

    def filter(self, raw: RawRatings) -> RawRatings:
        """Drop interactions before splitting (e.g. minimum counts per user / item); none by default."""
        return raw

    def fingerprint(self, path: Path) -> str:
        """A sha256 identifying the source data: the raw file's by default. Keys the split cache."""
        return sha256_of(path)

    def split_settings(self) -> list[Any]:
        """Every option besides the source data that changes the split. Keys the split cache."""
        settings: list[Any] = [self.validation, self.eval_negatives, self.split_seed]
        if self.rating_scale is not None:  # a cache built without the scale check must not skip it
            settings.append(self.rating_scale)
        return settings

    # --- split ------------------------------------------------------------------------------------

    def source_id(self) -> tuple[str, str]:
        """``(where the ratings come from, sha256 identifying them)``; the sha256 keys the split cache."""
        path = self.raw_file()
        return str(path), self.fingerprint(path)

    def load_raw(self) -> RawRatings:
        """The raw ratings (by default: parse the raw file; generated datasets override this)."""
        return self.parse(self.raw_file())

    def setup(self, stage: str | None = None) -> None:
        if self.split is not None:
            return
        source, sha256 = self.source_id()
        cache = self._cache_path(sha256)
        split = self._cached_split(source, cache) if cache is not None else self._build_split(source)
        # -1 marks a user without a test / validation item (possible in imported NCF splits).
        n_ratings = len(split.train_items) + int((split.test_items >= 0).sum())
        n_ratings += int((split.val_items >= 0).sum())
        self.split = split
        self.info = DatasetInfo(
            name=self.name,
            source=source,
            sha256=sha256,
            users=split.n_users,
            items=split.n_items,
            ratings=n_ratings,
            notes=self.describe(Path(source), sha256, split),
            policy=split.policy,
        )
        for note in self.info.notes:
            log.warning("%s: %s", self.name, note)

    def _build_split(self, source: str) -> LeaveOneOutSplit:
        raw = self.load_raw()
        check_rating_scale(raw, self.rating_scale)
        unique = drop_duplicate_pairs(raw)
        filtered = self.filter(unique)
        kept = drop_sparse_users(filtered, 3 if self.validation else 2)
        policy = {
            "duplicates_dropped": len(raw) - len(unique),
            "filtered_out": len(unique) - len(filtered),
            "sparse_users_dropped": len(pd.unique(filtered.users)) - len(pd.unique(kept.users)),
            "sparse_user_ratings_dropped": len(filtered) - len(kept),
        }
        try:
            data = to_interactions(kept)
            split = leave_one_out(data, self.validation, self.eval_negatives, self.split_seed)
        except DataError as exc:
            raise DataError(f"{source}: {exc}") from exc
        return replace(split, policy=policy)

    def _cached_split(self, source: str, cache: Path) -> LeaveOneOutSplit:
        """The split from ``cache``, built and saved there first if no job has yet.

        Jobs that start together on an empty cache take its lock in turn: the first builds and saves the
        split, the others then read that file (never a half-written one: it is renamed into place).
        """
        # A folder (or anything else but a readable file) under the cache's name is an error saying so.
        where = " (the split cache: remove it, or set paths.cache_dir elsewhere)"
        split = self._load_cache(cache) if file_present(cache, where) else None
        if split is not None:
            return split
        with locked(cache):
            split = self._load_cache(cache) if file_present(cache, where) else None  # built while we waited
            if split is None:
                split = self._build_split(source)
                split.save(cache)
                log.info("saved split to %s", cache)
        return split

    @staticmethod
    def _load_cache(cache: Path) -> LeaveOneOutSplit | None:
        """The cached split, or None (rebuild it) if the file cannot be read: never trusted blindly."""
        try:
            split = LeaveOneOutSplit.load(cache)
        except DataError as exc:
            log.warning("%s; rebuilding the split", exc)
            return None
        log.info("reusing split %s", cache)
        return split

    def _cache_path(self, sha256: str) -> Path | None:
        if self.cache_dir is None:
            return None
        key = json.dumps([SPLIT_VERSION, sha256, *self.split_settings()], sort_keys=True)
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        return self.cache_dir / self.name / f"split-{digest}.npz"

    # --- views of the split -----------------------------------------------------------------------

    def _require_split(self) -> LeaveOneOutSplit:
        if self.split is None:
            self.setup()
        assert self.split is not None
        return self.split

    @property
    def n_users(self) -> int:
        return self._require_split().n_users

    @property
    def n_items(self) -> int:
        return self._require_split().n_items

    @property
    def max_rating(self) -> float:
        return self._require_split().max_rating

    def train_matrix(self) -> SparseRows:
        """Y (user rows) from training interactions only."""
        split = self._require_split()
        return rating_matrix(
            split.train_users,
            split.train_items,
            split.train_ratings,
            split.n_users,
            split.n_items,
            self.input,
        )

    def known_items(self) -> SparseRows:
        """Every item each user interacted with (train, validation, test): excluded from full ranking."""
        split = self._require_split()
        users, items = [split.train_users], [split.train_items]
        for held_out in (split.test_items, split.val_items):
            present = np.flatnonzero(held_out >= 0)
            users.append(present)
            items.append(held_out[present])
        users_all, items_all = np.concatenate(users), np.concatenate(items)
        return SparseRows.from_coo(
            users_all, items_all, np.ones(len(users_all), np.float32), split.n_users, split.n_items
        )

    # --- loaders ----------------------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        trainer = self.trainer
        return trainer.strategy.root_device if trainer is not None else torch.device("cpu")

    def _on_device(self, key: str, build: Any) -> Any:
        device = self.device
        if key not in self._device_tensors or self._device_tensors[key][0] != device:
            self._device_tensors[key] = (device, build(device))
        return self._device_tensors[key][1]

    def full_batch_dataloader(self) -> FullBatch:
        """A single batch: every training positive ``(users, items, ratings)``, no negatives."""
        split = self._require_split()
        arrays = (split.train_users, split.train_items, split.train_ratings.astype(np.float32))
        return self._on_device("full_batch", lambda d: FullBatch(*(torch.as_tensor(a).to(d) for a in arrays)))

    def train_dataloader(self) -> TrainBatches | StaticTrainBatches | FullBatch:
        if self.full_batch:
            return self.full_batch_dataloader()
        if self.steps_per_call is not None:
            return StaticTrainBatches(self.pair_batches(), self.steps_per_call)
        return self.pair_batches()

    def pair_batches(self) -> TrainBatches:
        """The training pairs of each epoch in batches of ``batch_size`` (built once per device)."""
        split = self._require_split()

        def build(device: torch.device) -> TrainBatches:
            def as_tensor(array: np.ndarray) -> torch.Tensor:
                return torch.as_tensor(array).to(device)

            return TrainBatches(
                users=as_tensor(split.train_users),
                items=as_tensor(split.train_items),
                ratings=as_tensor(split.train_ratings.astype(np.float32)),
                n_items=split.n_items,
                neg_ratio=self.neg_ratio,
                resample=self.resample,
                batch_size=self.batch_size,
                seed=self.seed,
                current_epoch=lambda: self.trainer.current_epoch if self.trainer is not None else 0,
            )

        return self._on_device("train", build)

    def _eval_batches(self, targets: np.ndarray) -> EvalBatches:
        split = self._require_split()
        device = self.device
        # Users without a held-out item (target -1) are not evaluated.
        users = np.flatnonzero(targets >= 0)
        return EvalBatches(
            users=torch.as_tensor(users).to(device),
            targets=torch.as_tensor(targets).to(device),
            negatives=self._on_device("negatives", lambda d: torch.as_tensor(split.eval_negatives).to(d)),
            known=self._on_device("known", lambda d: self.known_items().to(d)),
            chunk_size=max(1, EVAL_SCORES_PER_CHUNK // split.n_items),
        )

    def val_dataloader(self) -> EvalBatches | list:
        split = self._require_split()
        return self._eval_batches(split.val_items) if split.has_validation else []

    def test_dataloader(self) -> EvalBatches:
        return self._eval_batches(self._require_split().test_items)


def check_data_options(
    neg_ratio: int, negative_sampling: str, eval_negatives: int, input: str, batch_size: int
) -> None:
    """Fail on invalid data options before anything is loaded, naming the key and what is allowed."""
    if not isinstance(neg_ratio, int) or neg_ratio < 0:
        raise ConfigError(f"data.neg_ratio must be an integer >= 0, got {neg_ratio!r}")
    if negative_sampling not in ("resample", "once"):
        raise ConfigError(f"data.negative_sampling must be 'resample' or 'once', got {negative_sampling!r}")
    if not isinstance(eval_negatives, int) or eval_negatives < 1:
        raise ConfigError(f"data.eval_negatives must be an integer >= 1, got {eval_negatives!r}")
    if input not in ("rating", "binary"):
        raise ConfigError(f"data.input must be 'rating' or 'binary', got {input!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"data.batch_size must be an integer >= 1, got {batch_size!r}")


def check_rating_scale_option(rating_scale: Any) -> None:
    """``data.rating_scale`` is null or ``[lowest, highest]`` with ``0 < lowest <= highest``."""
    if rating_scale is None:
        return
    values = list(rating_scale) if not isinstance(rating_scale, str | bytes) else []
    numeric = len(values) == 2 and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    if not numeric or not 0 < values[0] <= values[1]:
        raise ConfigError(
            f"data.rating_scale must be null or [lowest, highest] with 0 < lowest <= highest, "
            f"got {rating_scale!r}"
        )


def check_data_config(config: Any) -> None:
    """Check the data options of a config (``cfg.data``) without building the datamodule or reading data."""
    check_data_options(
        config.get("neg_ratio", 7),
        config.get("negative_sampling", "resample"),
        config.get("eval_negatives", 100),
        config.get("input", "rating"),
        config.get("batch_size", 256),
    )
    check_rating_scale_option(config.get("rating_scale"))
