"""A tuned method's values come from a tuning sweep (``deepmf.report.tuned``): refuse to run without them."""

from __future__ import annotations

from typing import Any

from hydra.core.hydra_config import HydraConfig

from deepmf.errors import ConfigError


def check_tuned_config(cfg: Any) -> None:
    """A method with ``tuned_required`` (``conf/method/dmf_tuned.yaml``) needs ``tuned.<tuned_as>``, which
    ``conf/train.yaml`` loads from ``conf/hparams/tuned/<data>/<tuned_as>.yaml``."""
    if not cfg.get("tuned_required"):
        return
    name = cfg.get("tuned_as")
    if not (cfg.get("tuned") or {}).get(name):
        data = data_choice(cfg)
        raise ConfigError(
            f"the tuned method (tuned_as={name}) has no tuned values for {data}: no "
            f"conf/hparams/tuned/{data}/{name}.yaml; run the tuning first: python -m deepmf.reproduce "
            f"only=tuning data={data} (the `tuning` of conf/reproduce/manifest.yaml)"
        )


def data_choice(cfg: Any) -> str:
    """The run's ``data=`` choice (the folder of its tuned files); outside Hydra, the data's name."""
    if HydraConfig.initialized():
        choice = HydraConfig.get().runtime.choices.get("data")
        if choice:
            return str(choice)
    return str(cfg.data.get("name") or "<data>")
