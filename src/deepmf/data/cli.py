"""Building a data module from the same overrides ``train.py`` takes (``data=amusic data.x=y``)."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig

from deepmf.data.datamodule import InteractionDataModule

#: conf/ next to src/ in a checkout (the package is installed editable from it).
DEFAULT_CONFIG_DIR = Path(__file__).resolve().parents[3] / "conf"


def compose_config(overrides: list[str], config_dir: Path = DEFAULT_CONFIG_DIR) -> DictConfig:
    """The run configuration ``train.py`` would see for these overrides."""
    if not (config_dir / "train.yaml").is_file():
        raise FileNotFoundError(f"{config_dir}/train.yaml not found; pass --config-dir")
    with initialize_config_dir(config_dir=str(config_dir.resolve()), version_base="1.3"):
        return compose(config_name="train", overrides=overrides)


def build_datamodule(overrides: list[str], config_dir: Path = DEFAULT_CONFIG_DIR) -> InteractionDataModule:
    """The data module of that configuration, set up (split built or loaded from the cache)."""
    datamodule: InteractionDataModule = instantiate(compose_config(overrides, config_dir).data)
    datamodule.setup()
    return datamodule
