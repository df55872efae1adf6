from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.synthetic import write_ml100k

# Tests never talk to a W&B server.
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")


@pytest.fixture
def ml100k_dir(tmp_path: Path) -> Path:
    """A data directory holding a tiny synthetic MovieLens-100K-format ``u.data``."""
    write_ml100k(tmp_path / "data", n_users=30, n_items=150, seed=0)
    return tmp_path / "data"
