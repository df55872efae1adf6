from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.synthetic import write_ml100k

# Subprocesses (``python train.py ...``) import this checkout's src/ as the tests do (pyproject's
# pythonpath), not another checkout installed editable in the environment.
SRC = Path(__file__).resolve().parents[1] / "src"
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))

# Tests never talk to a W&B server.
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")


@pytest.fixture
def ml100k_dir(tmp_path: Path) -> Path:
    """A data directory holding a tiny synthetic MovieLens-100K-format ``u.data``."""
    write_ml100k(tmp_path / "data", n_users=30, n_items=150, seed=0)
    return tmp_path / "data"
