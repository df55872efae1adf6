"""The LightningModule for non-gradient models: an epoch is one ``fit_step()``, evaluation as for DMF."""

from __future__ import annotations

import warnings

import torch

from deepmf.models.fitted import FittedRecommender
from deepmf.training.module import NonFiniteLossError, RecommenderModule

# Having no optimiser is the point of these models; Lightning's warning about it is noise on every run.
warnings.filterwarnings("ignore", message=r".*configure_optimizers.* returned .None.", category=UserWarning)


class FittedRecommenderModule(RecommenderModule):
    """Same evaluation, logging and checkpointing as :class:`RecommenderModule`; no optimiser, no loss.

    The run gives it one batch per epoch (``datamodule.full_batch``), which it ignores: the model fits
    from the training matrix it was built with. ``train/loss`` is the model's objective when it has one.
    """

    model: FittedRecommender

    def __init__(self, model: FittedRecommender, ks: list[int], n_items: int) -> None:
        super().__init__(model, loss=None, lr=0.0, ks=ks, n_items=n_items)  # type: ignore[arg-type]
        self.automatic_optimization = False

    def configure_optimizers(self) -> None:
        return None

    def training_step(self, batch: object, batch_idx: int) -> None:
        objective = self.model.fit_step()
        if objective is None:
            return
        if not torch.isfinite(objective):
            raise NonFiniteLossError(
                f"non-finite objective ({objective.item()}) at epoch {self.current_epoch}; "
                "check the model's regularisation"
            )
        self.log("train/loss", objective, on_step=False, on_epoch=True, prog_bar=True, batch_size=1)
