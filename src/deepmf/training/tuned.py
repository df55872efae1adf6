"""A tuned method's values come from a tuning sweep (``deepmf.report.tuned``): refuse to run without them."""

from __future__ import annotations

from typing import Any

from deepmf.errors import ConfigError


def check_tuned_config(cfg: Any) -> None:
    """A method with ``tuned_required`` (``conf/method/dmf_tuned.yaml``) needs ``tuned.<tuned_as>``, which
    ``conf/train.yaml`` loads from ``conf/hparams/tuned/<data>/<tuned_as>.yaml``."""
    if not cfg.get("tuned_required"):
        return
    name = cfg.get("tuned_as")
    if not (cfg.get("tuned") or {}).get(name):
        data = cfg.data.get("name") or cfg.data.get("_target_", "this data")
        raise ConfigError(
            f"the tuned method (tuned_as={name}) has no tuned values for {data}: no "
            f"conf/hparams/tuned/<data>/{name}.yaml; run the tuning first: python -m deepmf.reproduce "
            "only=tuning data=<data> (the `tuning` of conf/reproduce/manifest.yaml)"
        )
