"""Dataset statistics as in the paper's Table 1, after filtering.

``python -m deepmf.data.stats data=amusic`` prints users / items / ratings / density of any data config.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from deepmf.data.cli import DEFAULT_CONFIG_DIR, build_datamodule
from deepmf.errors import DeepMFError

#: The paper's Table 1 (its ML sizes count the unused id 0, hence 944 / 1,683 and its densities).
PAPER_TABLE1 = {
    "ml100k": {"users": 944, "items": 1683, "ratings": 100_000, "density": 0.06294},
    "ml1m": {"users": 6040, "items": 3706, "ratings": 1_000_209, "density": 0.04468},
    "amusic": {"users": 844, "items": 18_813, "ratings": 46_468, "density": 0.00292},
    "amovie": {"users": 9582, "items": 92_221, "ratings": 766_759, "density": 0.00087},
}


def table1_row(overrides: list[str], config_dir: Path = DEFAULT_CONFIG_DIR) -> dict[str, Any]:
    """Users / items / ratings / density of the data config given by ``overrides``, after filtering.

    Counts are of what the split holds (train + validation + test), so they are what models see.
    """
    info = build_datamodule(overrides, config_dir).info
    assert info is not None
    return info.as_dict()


def format_table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table of :func:`table1_row` results."""
    lines = ["| dataset | users | items | ratings | density |", "| --- | ---: | ---: | ---: | ---: |"]
    for row in rows:
        lines.append(
            f"| {row['name']} | {row['users']:,} | {row['items']:,} | {row['ratings']:,} | "
            f"{row['density']:.6f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("overrides", nargs="*", help="data config overrides, as for train.py")
    parser.add_argument("--config-dir", type=Path, default=DEFAULT_CONFIG_DIR)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        row = table1_row(args.overrides, args.config_dir)
    except DeepMFError as exc:
        logging.error("%s", exc)
        return 1
    print(format_table([row]))
    for note in row["notes"]:
        print(f"NOTE: {note}")
    print(f"source: {row['source']} (sha256 {row['sha256']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
