"""deepmf.io: atomic writes leave a complete file with the permissions a plain write would, or nothing."""

from __future__ import annotations

import json
import os

import pytest

from deepmf.io import write_atomic, write_json_atomic


@pytest.fixture
def umask_022():
    """Run under umask 022 (the usual one) whatever this process had; deepmf.io read it at import."""
    import deepmf.io as io

    previous = io._UMASK
    io._UMASK = 0o022
    yield
    io._UMASK = previous


def test_a_new_file_gets_the_mode_a_plain_write_would_not_mkstemps_private_one(tmp_path, umask_022):
    path = tmp_path / "sweep" / "metrics.json"
    write_json_atomic(path, {"hr": 0.5})
    assert json.loads(path.read_text()) == {"hr": 0.5}
    assert path.stat().st_mode & 0o777 == 0o644  # readable by the others of a shared cluster, as open() gives


def test_rewriting_a_file_keeps_its_mode(tmp_path, umask_022):
    path = tmp_path / "results.md"
    path.write_text("old\n")
    os.chmod(path, 0o640)
    write_atomic(path, lambda tmp: tmp.write_text("new\n"))
    assert path.read_text() == "new\n" and path.stat().st_mode & 0o777 == 0o640


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path):
    path = tmp_path / "table.md"
    path.write_text("complete\n")

    def half_then_fail(tmp):
        tmp.write_text("half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        write_atomic(path, half_then_fail)
    assert path.read_text() == "complete\n" and sorted(p.name for p in tmp_path.iterdir()) == ["table.md"]
