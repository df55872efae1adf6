"""Read the records of an offline W&B run file (``run-<id>.wandb``) to check what a run logged.

The file is a LevelDB-style log (32 KiB blocks; records of checksum:4, length:2, type:1, data; types
FULL/FIRST/MIDDLE/LAST) after a 7-byte header, each record a ``wandb_internal_pb2.Record``.
"""

from __future__ import annotations

import struct
from pathlib import Path

from wandb.proto import wandb_internal_pb2 as pb

HEADER, BLOCK, RECORD_HEADER = 7, 32 * 1024, 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def read_records(path: Path) -> list[pb.Record]:
    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    records, pending, pos = [], b"", HEADER
    while pos + RECORD_HEADER <= len(data):
        left_in_block = BLOCK - pos % BLOCK
        if left_in_block < RECORD_HEADER:  # block trailer padding
            pos += left_in_block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + RECORD_HEADER])
        chunk = data[pos + RECORD_HEADER : pos + RECORD_HEADER + length]
        pos += RECORD_HEADER + length
        if kind == 0 and length == 0:  # zero padding
            continue
        pending = chunk if kind in (FULL, FIRST) else pending + chunk
        if kind in (FULL, LAST):
            record = pb.Record()
            record.ParseFromString(pending)
            records.append(record)
    return records


def run_summary(path: Path) -> tuple[pb.RunRecord, dict[str, str]]:
    """The run record (group, job type) and the last summary value of every key (JSON text)."""
    run, summary = None, {}
    for record in read_records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run = record.run
        elif kind == "summary":
            for item in record.summary.update:
                summary[item.key or "/".join(item.nested_key)] = item.value_json
    assert run is not None, f"no run record in {path}"
    return run, summary
