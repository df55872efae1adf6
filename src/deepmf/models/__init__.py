"""Models: each registers a name that ``model=<name>`` selects."""

from deepmf.models import dmf, eals, ease, itemknn, itempop, lfm, ncf  # noqa: F401  (registration side effects)
from deepmf.models.base import (
    MODELS,
    ModelContext,
    Recommender,
    build_model,
    check_model_config,
    register_model,
)

__all__ = [
    "MODELS",
    "ModelContext",
    "Recommender",
    "build_model",
    "check_model_config",
    "register_model",
]
