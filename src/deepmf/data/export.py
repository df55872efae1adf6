"""Write a data config's split in NCF format, so other implementations run on exactly our split.

``python -m deepmf.data.export data=ml100k --format ncf out/`` writes ``out/ml100k.train.rating``,
``.valid.rating`` (when ``data.validation=true``), ``.test.rating`` and ``.test.negative``; read them
back with ``python train.py data=ncf data.name=ml100k data.dir=out``.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from deepmf.data.cli import DEFAULT_CONFIG_DIR, build_datamodule
from deepmf.data.ncf import write_ncf
from deepmf.errors import DeepMFError

FORMATS = ("ncf",)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument(
        "args", nargs="+", help="data config overrides (key=value), then the output directory"
    )
    parser.add_argument("--format", choices=FORMATS, default="ncf")
    parser.add_argument("--name", help="file name prefix (default: the dataset's name)")
    parser.add_argument("--config-dir", type=Path, default=DEFAULT_CONFIG_DIR)
    # Intermixed: options may come between the overrides and the directory (``data=x --format ncf out``).
    args = parser.parse_intermixed_args(argv)
    *overrides, directory = args.args
    if "=" in directory:
        parser.error("the last argument must be the output directory")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        datamodule = build_datamodule(overrides, args.config_dir)
    except DeepMFError as exc:
        logging.error("%s", exc)
        return 1
    assert datamodule.split is not None
    name = args.name or datamodule.name
    for path in write_ncf(datamodule.split, directory, name):
        print(path)
    print(f"read back with: python train.py data=ncf data.name={name} data.dir={directory}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
