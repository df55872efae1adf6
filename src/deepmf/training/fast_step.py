"""DMF's training step with static shapes and no host reads: forward, loss, backward and Adam in one call.

Each step is one paper mini-batch (a row of a :class:`~deepmf.data.static_batches.StaticEpoch`) with its
own Adam update. The numbers are today's (``RecommenderModule.training_step``) up to float rounding:
the same towers and clamped cosine (:func:`~deepmf.models.static_rows.pair_scores`, each distinct row
through its tower once, found with static shapes), the same loss (the weighted mean drops only the
padding), and Adam's update written out in tensor ops (:func:`adam_update`, torch's own formula), its
state kept in the ``torch.optim.Adam`` that Lightning checkpoints. Nothing reads a tensor back to the
host, so the step can be compiled as one graph (``torch.compile(fullgraph=True)``, the backward traced
with ``trace_autograd_ops``) and, on CUDA, captured once and replayed (:class:`CudaGraphStep`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from deepmf.errors import ConfigError
from deepmf.losses import PointwiseLoss
from deepmf.models.dmf import DMF
from deepmf.models.static_rows import STATIC_FORMS, StaticRows, pair_scores

StepBody = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], None]

#: Eager steps run (on a side stream) before a CUDA graph is captured, as torch.cuda.graphs asks.
GRAPH_WARMUP_STEPS = 3


@dataclass(frozen=True)
class AdamSettings:
    lr: float
    beta1: float
    beta2: float
    eps: float

    @classmethod
    def of(cls, optimizer: torch.optim.Optimizer) -> AdamSettings:
        """Plain Adam's settings from ``optimizer`` (one parameter group, no weight decay or amsgrad)."""
        if not isinstance(optimizer, torch.optim.Adam) or len(optimizer.param_groups) != 1:
            raise ConfigError("the fast path runs plain Adam with one parameter group (optim.name=adam)")
        group = optimizer.param_groups[0]
        if group["weight_decay"] or group["amsgrad"] or group["maximize"]:
            raise ConfigError("the fast path runs plain Adam: no weight decay, amsgrad or maximize")
        beta1, beta2 = group["betas"]
        return cls(float(group["lr"]), float(beta1), float(beta2), float(group["eps"]))


def adam_state(optimizer: torch.optim.Optimizer, parameters: list[torch.Tensor]) -> list[dict]:
    """Each parameter's Adam state (``step``, ``exp_avg``, ``exp_avg_sq``) in ``optimizer.state``,
    created as ``torch.optim.Adam`` would on its first step; ``step`` lives on the parameter's device
    (as fused or capturable Adam keeps it), so reading it needs no host sync."""
    states = []
    for parameter in parameters:
        state = optimizer.state[parameter]
        if not state:
            state["step"] = torch.zeros((), dtype=torch.float32, device=parameter.device)
            state["exp_avg"] = torch.zeros_like(parameter, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(parameter, memory_format=torch.preserve_format)
        elif not torch.is_tensor(state["step"]) or state["step"].device != parameter.device:
            state["step"] = torch.as_tensor(state["step"], dtype=torch.float32).to(parameter.device)
        states.append(state)
    return states


def adam_update(
    parameters: list[torch.Tensor], grads: list[torch.Tensor], states: list[dict], adam: AdamSettings
) -> None:
    """One Adam step in place: torch's single-tensor capturable formula, all in tensor ops."""
    for parameter, grad, state in zip(parameters, grads, states):
        step, exp_avg, exp_avg_sq = state["step"], state["exp_avg"], state["exp_avg_sq"]
        step.add_(1)
        exp_avg.lerp_(grad, 1 - adam.beta1)
        exp_avg_sq.mul_(adam.beta2).addcmul_(grad, grad, value=1 - adam.beta2)
        bias_correction1 = 1 - torch.pow(adam.beta1, step)
        bias_correction2 = 1 - torch.pow(adam.beta2, step)
        step_size = adam.lr / bias_correction1
        denominator = (exp_avg_sq.sqrt() / bias_correction2.sqrt()).add_(adam.eps)
        parameter.sub_(exp_avg / denominator * step_size)


class FastStep:
    """``step(users, items, ratings, weights)``: one mini-batch's forward, loss, backward and Adam update.

    ``compiled``: the step through ``torch.compile(fullgraph=True)``; ``cuda_graph``: captured after
    :data:`GRAPH_WARMUP_STEPS` eager steps and replayed (CUDA only). :attr:`loss_sum` adds up the steps'
    losses on the device (zero it with :meth:`start_epoch`).
    """

    def __init__(
        self,
        model: DMF,
        rows: StaticRows,
        loss: PointwiseLoss,
        optimizer: torch.optim.Optimizer,
        compiled: bool = False,
        cuda_graph: bool = False,
    ) -> None:
        if (compiled or cuda_graph) and rows.form not in STATIC_FORMS:
            raise ConfigError(
                f"first layer {rows.form!r} has data-dependent shapes: it cannot be compiled or captured"
            )
        self.model, self.rows, self.loss = model, rows, loss
        self.parameters = [p for p in model.parameters() if p.requires_grad]
        self.adam = AdamSettings.of(optimizer)
        self.states = adam_state(optimizer, self.parameters)
        self.loss_sum = torch.zeros((), device=self.parameters[0].device)
        self.compiled = compiled
        body: StepBody = self.body
        if compiled:
            if not hasattr(torch._dynamo.config, "trace_autograd_ops"):
                raise ConfigError(
                    f"fast_path.compile=true compiles the backward inside the step, which needs Dynamo's "
                    f"trace_autograd_ops (not in torch {torch.__version__}); use fast_path.compile=false "
                    "or cuda_graph"
                )
            body = torch.compile(self.body, fullgraph=True)
        self._run: StepBody = CudaGraphStep(body) if cuda_graph else body

    def body(
        self, users: torch.Tensor, items: torch.Tensor, ratings: torch.Tensor, weights: torch.Tensor
    ) -> None:
        """The step itself (what is compiled and captured)."""
        scores = pair_scores(self.model, self.rows, users, items)
        loss = (self.loss.per_pair(scores, ratings) * weights).sum() / weights.sum()
        grads = torch.autograd.grad(loss, self.parameters)
        with torch.no_grad():
            adam_update(self.parameters, list(grads), self.states, self.adam)
            self.loss_sum.add_(loss.detach())

    def start_epoch(self) -> None:
        self.loss_sum.zero_()

    def step(
        self, users: torch.Tensor, items: torch.Tensor, ratings: torch.Tensor, weights: torch.Tensor
    ) -> None:
        if self.compiled:
            with torch._dynamo.config.patch(trace_autograd_ops=True):
                self._run(users, items, ratings, weights)
        else:
            self._run(users, items, ratings, weights)

    def steps(
        self, users: torch.Tensor, items: torch.Tensor, ratings: torch.Tensor, weights: torch.Tensor
    ) -> None:
        """One step per row of ``(n_steps, batch)`` tensors, in order."""
        for k in range(users.shape[0]):
            self.step(users[k], items[k], ratings[k], weights[k])


class CudaGraphStep:
    """A step body captured in a CUDA graph after a few eager warm-up steps, then replayed.

    Every call is one real step: the batch is copied into fixed input buffers, then the warm-up steps
    run eagerly on a side stream (as torch.cuda.graphs requires before capture), the next call captures
    the body (capturing runs nothing) and replays it, later calls only replay.
    """

    def __init__(self, body: StepBody, warmup_steps: int = GRAPH_WARMUP_STEPS) -> None:
        self.body = body
        self.warmup_left = warmup_steps
        self.inputs: list[torch.Tensor] | None = None
        self.graph: torch.cuda.CUDAGraph | None = None

    def __call__(self, *batch: torch.Tensor) -> None:
        if self.inputs is None:
            self.inputs = [torch.empty_like(tensor) for tensor in batch]
        for buffer, tensor in zip(self.inputs, batch):
            buffer.copy_(tensor)
        if self.graph is not None:
            self.graph.replay()
        elif self.warmup_left > 0:
            self.warmup_left -= 1
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                self.body(*self.inputs)
            torch.cuda.current_stream().wait_stream(side)
        else:
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                self.body(*self.inputs)
            self.graph.replay()
