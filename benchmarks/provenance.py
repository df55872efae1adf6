"""The header every benchmark table carries when written to a file: the command, the machine and its load.

Imported by the scripts in this folder as ``from provenance import write_report`` (they run as
``python benchmarks/<script>.py``, so this folder is on ``sys.path``).
"""

from __future__ import annotations

import os
import platform
import shlex
import sys
import time
from pathlib import Path

import torch


def cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    for line in cpuinfo.read_text().splitlines() if cpuinfo.exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def write_report(path: Path, lines: list[str], details: str = "") -> None:
    """Write the table ``lines``, headed by the command that produced it and the machine it ran on."""
    header = [
        f"Generated {time.strftime('%Y-%m-%d %H:%M')} by `python {shlex.join(sys.argv)}` on "
        f"{os.cpu_count()} cores ({cpu_name()}), torch {torch.__version__}{details}, "
        f"load average {os.getloadavg()[0]:.1f} at the end.",
        "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(header + lines) + "\n", encoding="utf-8")
