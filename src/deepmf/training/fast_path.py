"""The ``fast_path`` config block and the LightningModule that trains DMF with :class:`FastStep`.

``fast_path.enabled=auto`` turns it on for a CUDA trainer (``trainer=gpu``) and leaves today's step on
the CPU, where the compiled step measured slower (docs/benchmarks/compiled_step.md). Each Lightning
``training_step`` call runs ``steps_per_call`` optimiser steps, each one paper mini-batch with its own
Adam update, so Lightning's per-call overhead is paid once per many steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from deepmf.data.static_batches import StaticChunk
from deepmf.errors import ConfigError
from deepmf.losses import PointwiseLoss
from deepmf.models.base import Recommender
from deepmf.models.dmf import DMF
from deepmf.models.static_rows import FIRST_LAYERS, StaticRows, choose_first_layer
from deepmf.training.fast_step import FastStep
from deepmf.training.module import NonFiniteLossError, RecommenderModule

ENABLED = ("auto", True, False)
COMPILE = ("auto", True, False, "cuda_graph")
DEFAULTS: dict[str, Any] = {
    "enabled": "auto",
    "compile": "auto",
    "steps_per_call": 32,
    "first_layer": "auto",
    "dense_budget_mb": 4096,
}


@dataclass(frozen=True)
class FastPathSettings:
    """A resolved ``fast_path`` block: ``compile`` is ``"false"``, ``"true"`` or ``"cuda_graph"``."""

    compile: str
    steps_per_call: int
    first_layer: str
    dense_budget_mb: float


def fast_path_options(config: Any) -> dict[str, Any]:
    """The block's values over :data:`DEFAULTS` (a config without the block gets the defaults)."""
    options = dict(DEFAULTS)
    if config is not None:
        unknown = sorted(set(config) - set(DEFAULTS))
        if unknown:
            raise ConfigError(
                f"fast_path.{unknown[0]} is not an option; the options are {', '.join(DEFAULTS)}"
            )
        options |= dict(config)
    return options


def check_fast_path_config(config: Any) -> None:
    """Each ``fast_path`` key has an allowed value, before any data is read."""
    options = fast_path_options(config)
    if options["enabled"] not in ENABLED:
        raise ConfigError(f"fast_path.enabled must be auto, true or false, got {options['enabled']!r}")
    if options["compile"] not in COMPILE:
        raise ConfigError(
            f"fast_path.compile must be auto, true, false or cuda_graph, got {options['compile']!r}"
        )
    steps = options["steps_per_call"]
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"fast_path.steps_per_call must be an integer >= 1, got {steps!r}")
    if options["first_layer"] not in FIRST_LAYERS:
        raise ConfigError(
            f"fast_path.first_layer must be one of {', '.join(FIRST_LAYERS)}, got {options['first_layer']!r}"
        )
    budget = options["dense_budget_mb"]
    if isinstance(budget, bool) or not isinstance(budget, int | float) or budget < 0:
        raise ConfigError(f"fast_path.dense_budget_mb must be a number >= 0, got {budget!r}")


def on_cuda(accelerator: str | None, cuda_available: bool) -> bool:
    """Whether a trainer with ``accelerator`` trains on a CUDA device."""
    return accelerator in ("gpu", "cuda") or (accelerator in (None, "auto") and cuda_available)


def resolve_fast_path(
    config: Any, accelerator: str | None, cuda_available: bool, model: Recommender, optimizer: str
) -> FastPathSettings | None:
    """The fast path's settings for this run, or None for today's step.

    ``enabled=auto``: on for DMF with Adam on a CUDA trainer, off otherwise. ``enabled=true`` with
    another model or optimiser is an error. ``compile=auto``: ``cuda_graph`` on CUDA, off on CPU.
    """
    options = fast_path_options(config)
    cuda = on_cuda(accelerator, cuda_available)
    supported = isinstance(model, DMF) and optimizer == "adam"
    enabled = options["enabled"]
    if enabled is True and not supported:
        raise ConfigError("fast_path.enabled=true trains model=dmf with optim.name=adam only")
    if enabled is False or (enabled == "auto" and not (cuda and supported)):
        return None
    compile_mode = options["compile"]
    if compile_mode == "auto":
        compile_mode = "cuda_graph" if cuda else False
    if compile_mode == "cuda_graph" and not cuda:
        raise ConfigError("fast_path.compile=cuda_graph needs a CUDA trainer (trainer=gpu)")
    return FastPathSettings(
        compile={True: "true", False: "false"}.get(compile_mode, compile_mode),
        steps_per_call=options["steps_per_call"],
        first_layer=options["first_layer"],
        dense_budget_mb=float(options["dense_budget_mb"]),
    )


class FastRecommenderModule(RecommenderModule):
    """:class:`RecommenderModule` whose training calls each run several :class:`FastStep` steps.

    The model, its optimiser (a ``torch.optim.Adam`` holding the moments, so checkpoints are today's)
    and the evaluation are the parent's; the batches are :class:`StaticChunk` of a static epoch.
    """

    def __init__(
        self,
        model: DMF,
        loss: PointwiseLoss,
        lr: float,
        ks: list[int],
        n_items: int,
        settings: FastPathSettings,
    ) -> None:
        super().__init__(model, loss, lr, ks, n_items, "adam")
        self.settings = settings
        self.fast: FastStep | None = None
        self._steps_this_epoch = 0

    def first_layer_form(self) -> str:
        return choose_first_layer(
            self.settings.first_layer,
            self.model,
            self.device,
            self.settings.compile != "false",
            self.settings.dense_budget_mb,
        )

    def _fast_step(self) -> FastStep:
        if self.fast is None:
            optimizer = self.optimizers().optimizer  # the torch optimiser inside Lightning's wrapper
            self.fast = FastStep(
                self.model,
                StaticRows.build(self.first_layer_form(), self.model),
                self.loss,
                optimizer,
                compiled=self.settings.compile == "true",
                cuda_graph=self.settings.compile == "cuda_graph",
            )
        return self.fast

    def on_train_epoch_start(self) -> None:
        self._fast_step().start_epoch()
        self._steps_this_epoch = 0

    def training_step(self, batch: StaticChunk, batch_idx: int) -> None:  # type: ignore[override]
        fast = self._fast_step()
        fast.steps(batch.users, batch.items, batch.ratings, batch.weights)
        self._steps_this_epoch += len(batch)
        # Lightning counts optimiser steps through its optimizer wrapper, which the fast step bypasses:
        # count them here, so global_step (logging, checkpoints) is what today's path records.
        progress = self.trainer.fit_loop.epoch_loop.manual_optimization.optim_step_progress
        progress.total.ready += len(batch)
        progress.total.completed += len(batch)
        if batch_idx == self.trainer.num_training_batches - 1:
            mean = fast.loss_sum / self._steps_this_epoch
            self.log("train/loss", mean, on_step=False, on_epoch=True, prog_bar=True)

    def on_train_epoch_end(self) -> None:
        # A NaN or infinite step loss makes the sum non-finite: one host read per epoch.
        if self.fast is not None and self._steps_this_epoch and not torch.isfinite(self.fast.loss_sum):
            raise NonFiniteLossError(
                f"non-finite training loss during epoch {self.current_epoch}; "
                "lower optim.lr or check the data"
            )

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        super().on_load_checkpoint(checkpoint)
        self.fast = None  # rebuilt on the restored optimiser state
