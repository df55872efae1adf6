"""One LightningModule for every model: train step, evaluation over all users, metric logging."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytorch_lightning as pl
import torch

from deepmf.errors import TrainingError
from deepmf.evaluation.metrics import ranking_metrics
from deepmf.evaluation.ranking import rank_batch
from deepmf.losses import PointwiseLoss
from deepmf.models.base import Recommender
from deepmf.models.weight_blocks import reblock_optimizer_state

#: ``optim.name`` -> the optimiser over some parameters at a learning rate.
OPTIMIZERS: dict[str, Callable[[Iterator[torch.nn.Parameter], float], torch.optim.Optimizer]] = {
    # fused=True: the same Adam update in one kernel over all parameters (3-4x faster on CPU).
    "adam": lambda parameters, lr: torch.optim.Adam(parameters, lr=lr, fused=True),
    "sgd": lambda parameters, lr: torch.optim.SGD(parameters, lr=lr),
}


class NonFiniteLossError(TrainingError, RuntimeError):
    """Training diverged: the loss is NaN or infinite."""


class RecommenderModule(pl.LightningModule):
    """Trains a :class:`Recommender` with a pointwise loss and evaluates it by leave-one-out ranking.

    Logged per evaluation: ``{stage}/hr@k``, ``{stage}/ndcg@k`` (sampled candidates) and
    ``{stage}/full_hr@k``, ``{stage}/full_ndcg@k`` (all unobserved items), for ``stage`` in val / test.
    """

    def __init__(
        self,
        model: Recommender,
        loss: PointwiseLoss,
        lr: float,
        ks: list[int],
        n_items: int,
        optimizer: str = "adam",
    ) -> None:
        super().__init__()
        self.model = model
        self.loss = loss
        self.lr = lr
        self.optimizer_name = optimizer
        self.ks = list(ks)
        self.n_items = n_items
        self._ranks: dict[str, list[torch.Tensor]] = {"sampled": [], "full": [], "users": []}
        self.last_metrics: dict[str, float] = {}
        #: stage -> the last evaluation's per-user ``{"users", "sampled", "full"}`` (int32, on the CPU).
        self.last_ranks: dict[str, dict[str, torch.Tensor]] = {}
        self._all_finite: torch.Tensor | None = None
        self._loss_sum = torch.zeros(())
        # One plain Adam step per batch: manual optimisation skips Lightning's closure machinery, about
        # 1-2 ms of a ~16 ms CPU step at paper settings (benchmarks/bench.py, deepmf vs deepmf+lightning).
        self.automatic_optimization = False

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """Optimiser state saved for ``W1`` in another layout is put in its blocks before the optimiser
        reads it (:func:`~deepmf.models.weight_blocks.reblock_optimizer_state`)."""
        parameters = list(self.model.parameters())  # the order configure_optimizers hands them over
        for optimizer_state in checkpoint.get("optimizer_states", []):
            reblock_optimizer_state(parameters, optimizer_state)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return OPTIMIZERS[self.optimizer_name](self.model.parameters(), self.lr)

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        users, items, ratings = batch
        loss = self.loss(self.model(users, items), ratings)
        # Checking every step would force a device sync per step; a NaN persists, so sampling suffices,
        # and a device-side flag (no sync) catches what the samples miss at the end of the epoch.
        finite = torch.isfinite(loss.detach())
        self._all_finite = finite if self._all_finite is None else self._all_finite & finite
        if batch_idx % 50 == 0 and not finite:
            raise NonFiniteLossError(
                f"non-finite training loss ({loss.item()}) at epoch {self.current_epoch}, "
                f"step {batch_idx}; lower optim.lr or check the data"
            )
        optimizer = self.optimizers()
        optimizer.zero_grad()
        self.manual_backward(loss)
        optimizer.step()
        # Lightning's per-step self.log costs about a millisecond on the CPU; sum on the device instead and
        # log the epoch's mean once, at its last step (the value on_epoch reduction would have produced).
        self._loss_sum = loss.detach() if batch_idx == 0 else self._loss_sum + loss.detach()
        if batch_idx == self.trainer.num_training_batches - 1:
            mean = self._loss_sum / (batch_idx + 1)
            self.log("train/loss", mean, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def on_train_epoch_start(self) -> None:
        self._all_finite = None

    def on_train_epoch_end(self) -> None:
        if self._all_finite is not None and not self._all_finite:
            raise NonFiniteLossError(
                f"non-finite training loss during epoch {self.current_epoch}; "
                "lower optim.lr or check the data"
            )

    # --- evaluation ---------------------------------------------------------------------------------

    def _start_evaluation(self) -> None:
        self._ranks = {"sampled": [], "full": [], "users": []}
        self.model.prepare_evaluation()

    def _evaluation_step(self, batch: dict[str, torch.Tensor]) -> None:
        sampled, full = rank_batch(self.model, batch, self.n_items)
        self._ranks["sampled"].append(sampled)
        self._ranks["full"].append(full)
        self._ranks["users"].append(batch["users"])

    def _finish_evaluation(self, stage: str) -> None:
        if not self._ranks["sampled"]:
            return
        ranks = {name: torch.cat(parts) for name, parts in self._ranks.items()}
        metrics = ranking_metrics(ranks["sampled"], self.ks, f"{stage}/")
        metrics |= ranking_metrics(ranks["full"], self.ks, f"{stage}/full_")
        self.log_dict(metrics, prog_bar=False)
        self.last_metrics |= metrics
        # Kept for per_user.npz (deepmf.evaluation.per_user): one small int32 array per user and protocol.
        self.last_ranks[stage] = {name: values.to("cpu", torch.int32) for name, values in ranks.items()}
        self._ranks = {"sampled": [], "full": [], "users": []}

    def on_validation_epoch_start(self) -> None:
        self._start_evaluation()

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._evaluation_step(batch)

    def on_validation_epoch_end(self) -> None:
        self._finish_evaluation("val")

    def on_test_epoch_start(self) -> None:
        self._start_evaluation()

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._evaluation_step(batch)

    def on_test_epoch_end(self) -> None:
        self._finish_evaluation("test")
