"""A tiny implicit dataset with one planted answer, and how to fit any registered model on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from deepmf.data.matrix import SparseRows, rating_matrix
from deepmf.data.sampling import sorted_pair_keys, training_pairs
from deepmf.losses import PointwiseLoss
from deepmf.models import ModelContext, Recommender, build_model
from deepmf.models.fitted import FittedRecommender

CONF = Path(__file__).resolve().parents[1] / "conf" / "model"
#: Sizes for an 18 x 18 matrix: small towers; eALS at rank 2 (two user groups), since at a rank above the
#: number of items it fits the probe's missing entry exactly instead of generalising from its group.
SMALL = {
    "dmf": {"user_first_width": 32, "item_first_width": 32, "factors": 16},
    "eals": {"factors": 2, "iterations": 10},
}
PROBE_USER, PLANTED_ITEM = 0, 0


def planted_matrix(seed: int = 0) -> SparseRows:
    """Two user groups with disjoint item sets; the probe user has seen every group-A item but one.

    Group A: users 0..11, items 0..9; item 0 (the planted item) is seen by every A user except the
    probe, who has seen items 1..9. Group B: users 12..17, items 10..17, each user ~half of them.
    The probe's unseen items are the planted item and all B items, which no A user ever touched, so
    popularity, co-occurrence and low-rank structure all put the planted item first.
    """
    rng = np.random.default_rng(seed)
    users, items = [np.zeros(9, np.int64)], [np.arange(1, 10)]
    for user in range(1, 12):
        chosen = np.concatenate([[0], 1 + rng.choice(9, size=5, replace=False)])
        users.append(np.full(len(chosen), user))
        items.append(chosen)
    for user in range(12, 18):
        chosen = 10 + rng.choice(8, size=4, replace=False)
        users.append(np.full(len(chosen), user))
        items.append(chosen)
    u, i = np.concatenate(users), np.concatenate(items)
    ratings = rng.integers(3, 6, size=len(u)).astype(np.float32)
    return rating_matrix(u, i, ratings, n_users=18, n_items=18, input="rating")


def model_config(name: str, **overrides: object) -> DictConfig:
    config = OmegaConf.load(CONF / f"{name}.yaml")
    return OmegaConf.merge(config, SMALL.get(name, {}), overrides)


def fit(model: Recommender, matrix: SparseRows, steps: int = 60, lr: float = 0.02) -> Recommender:
    """Fit as the run would: fit steps for fitted models, BCE on resampled negatives for the others."""
    if isinstance(model, FittedRecommender):
        for _ in range(model.fit_epochs):
            model.fit_step()
        return model
    counts = matrix.indptr[1:] - matrix.indptr[:-1]
    users = torch.repeat_interleave(torch.arange(matrix.n_rows), counts)
    items, ratings = matrix.indices, torch.ones(len(users))
    keys = sorted_pair_keys(users, items, matrix.n_columns)
    loss = PointwiseLoss("ce", 1.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(0)
    for _ in range(steps):
        u, i, r = training_pairs(users, items, ratings, keys, matrix.n_columns, 4, generator)
        optimizer.zero_grad()
        loss(model(u, i), r).backward()
        optimizer.step()
    return model


def build(name: str, matrix: SparseRows, **overrides: object) -> Recommender:
    context = ModelContext(matrix.n_rows, matrix.n_columns, matrix, max_rating=5.0)
    torch.manual_seed(0)
    return build_model(model_config(name, **overrides), context)
