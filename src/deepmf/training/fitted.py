"""The LightningModule for non-gradient models: an epoch is one ``fit_step()``, evaluation as for DMF."""

from __future__ import annotations

import torch

from deepmf.models.fitted import FittedRecommender
from deepmf.training.module import NonFiniteLossError, RecommenderModule


class FittedRecommenderModule(RecommenderModule):
    """Same evaluation, logging and checkpointing as :class:`RecommenderModule`; no loss, no gradients.

    The run gives it one batch per epoch (``datamodule.full_batch``), which it ignores: the model fits
    from the training matrix it was built with. ``train/loss`` is the model's objective when it has one.

    Lightning counts steps by optimiser steps, and its checkpoint callback saves nothing while that
    count stands still: without a step per epoch no checkpoint was ever written, and a run was tested
    with its last epoch's state rather than the one validation selected (eALS: its last sweep). Each
    epoch therefore ends with one step of an optimiser over a single unregistered placeholder (no
    gradient, learning rate 0): it moves Lightning's step count and nothing else.
    """

    model: FittedRecommender

    def __init__(self, model: FittedRecommender, ks: list[int], n_items: int) -> None:
        super().__init__(model, loss=None, lr=0.0, ks=ks, n_items=n_items)  # type: ignore[arg-type]
        self.automatic_optimization = False
        # In a list, not an attribute: a Parameter attribute would enter the model's state_dict.
        self._step_placeholder = [torch.nn.Parameter(torch.zeros(1), requires_grad=False)]

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self._step_placeholder, lr=0.0)

    def training_step(self, batch: object, batch_idx: int) -> None:
        self.optimizers().step()  # type: ignore[union-attr]  # Lightning's step count: see the class doc
        objective = self.model.fit_step()
        if objective is None:
            return
        if not torch.isfinite(objective):
            raise NonFiniteLossError(
                f"non-finite objective ({objective.item()}) at epoch {self.current_epoch}; "
                "check the model's regularisation"
            )
        self.log("train/loss", objective, on_step=False, on_epoch=True, prog_bar=True, batch_size=1)
