"""The fast path's step (static shapes, no host reads) against today's ``RecommenderModule`` step."""

from __future__ import annotations

import contextlib
import copy
import shutil

import pytest
import torch

from deepmf.data.static_batches import static_epoch
from deepmf.data.synthetic import SyntheticDataModule
from deepmf.errors import ConfigError
from deepmf.losses import PointwiseLoss
from deepmf.models.dmf import DMF
from deepmf.models.static_rows import StaticRows, choose_first_layer, padded_rows
from deepmf.training.fast_step import FastStep
from deepmf.training.host_reads import count_host_reads
from deepmf.training.module import OPTIMIZERS

STEPS = 6
BATCH = 64
#: Adam turns a gradient at rounding level (1e-10 in one form, exactly 0 in the other) into a step of about
#: lr; at lr=1e-2 a few such elements drift by 1e-3 within 6 steps, at 1e-3 every parameter agrees to 2e-6.
LR = 1e-3


@pytest.fixture(scope="module")
def data() -> SyntheticDataModule:
    datamodule = SyntheticDataModule(
        preset="small", n_users=60, n_items=90, n_ratings=1_200, batch_size=BATCH, eval_negatives=20
    )
    datamodule.setup()
    return datamodule


def build_model(data: SyntheticDataModule, block: int | None = None) -> DMF:
    torch.manual_seed(0)
    return DMF(data.train_matrix(), [32, 8], [48, 8], init_std=0.1, block=block)


def todays_steps(model: DMF, loss: PointwiseLoss, batches: list) -> list[float]:
    """What ``RecommenderModule.training_step`` does per batch: model(users, items), mean loss, fused Adam."""
    optimizer = OPTIMIZERS["adam"](model.parameters(), LR)
    losses = []
    for users, items, ratings in batches:
        value = loss(model(users, items), ratings)
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
        losses.append(value.item())
    return losses


def fast_steps(model: DMF, loss: PointwiseLoss, form: str, epoch, compiled: bool = False) -> list[float]:
    optimizer = OPTIMIZERS["adam"](model.parameters(), LR)
    fast = FastStep(model, StaticRows.build(form, model), loss, optimizer, compiled=compiled)
    losses, previous = [], 0.0
    for k in range(STEPS):
        fast.step(epoch.users[k], epoch.items[k], epoch.ratings[k], epoch.weights[k])
        total = fast.loss_sum.item()
        losses.append(total - previous)
        previous = total
    return losses


def batches_of(data: SyntheticDataModule):
    users, items, ratings = data.pair_batches().epoch_pairs(0)
    # The last of the STEPS batches is partial: the fast path pads it, today's path does not.
    n = (STEPS - 1) * BATCH + BATCH // 3
    users, items, ratings = users[:n], items[:n], ratings[:n]
    today = [(users[s : s + BATCH], items[s : s + BATCH], ratings[s : s + BATCH]) for s in range(0, n, BATCH)]
    return today, static_epoch(users, items, ratings, BATCH)


def assert_same_training(
    data: SyntheticDataModule, form: str, compiled: bool = False, block: int | None = None
):
    loss = PointwiseLoss("nce", data.max_rating)
    today_batches, epoch = batches_of(data)
    assert epoch.n_steps == STEPS and float(epoch.weights[-1].sum()) == BATCH // 3
    reference, fast_model = build_model(data, block), build_model(data, block)
    expected = todays_steps(reference, loss, today_batches)
    got = fast_steps(fast_model, loss, form, epoch, compiled)
    assert got == pytest.approx(expected, rel=1e-5)
    for (name, want), have in zip(reference.state_dict().items(), fast_model.state_dict().values()):
        assert torch.allclose(have, want, atol=2e-6, rtol=0), name
    # The parameters moved: equality is not that of two untouched models.
    assert not torch.allclose(
        build_model(data, block).state_dict()["user_tower.first"], fast_model.state_dict()["user_tower.first"]
    )


@pytest.mark.parametrize("form", ["dense", "sparse_padded", "bag"])
def test_fast_step_equals_todays_step_by_step(data, form):
    assert_same_training(data, form)


def test_fast_step_equals_todays_step_with_w1_in_blocks(data):
    assert_same_training(data, "dense", block=16)


def test_static_epoch_pads_only_the_last_step():
    users = torch.arange(10)
    epoch = static_epoch(users, users + 100, users.float(), 4)
    assert epoch.users.tolist() == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 0, 0]]
    assert epoch.weights.tolist() == [[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 0, 0]]
    assert epoch.items[2].tolist() == [108, 109, 0, 0]


def test_padded_rows_hold_each_rows_nonzeros(data):
    rows = data.train_matrix()
    indices, values = padded_rows(rows)
    dense = torch.zeros(rows.n_rows, rows.n_columns).scatter_add_(1, indices, values)
    assert torch.equal(dense, rows.dense())
    assert indices.shape[1] == int((rows.indptr[1:] - rows.indptr[:-1]).max())


@pytest.mark.parametrize("form", ["dense", "sparse_padded"])
def test_fast_step_reads_nothing_back_to_the_host(data, form):
    model = build_model(data)
    loss = PointwiseLoss("nce", data.max_rating)
    fast = FastStep(model, StaticRows.build(form, model), loss, OPTIMIZERS["adam"](model.parameters(), LR))
    _, epoch = batches_of(data)
    with count_host_reads() as reads:
        fast.steps(epoch.users, epoch.items, epoch.ratings, epoch.weights)
    assert sum(reads.values()) == 0, reads
    # The counter does see host reads: today's step has several (unique, the gather's total, ...).
    with count_host_reads() as reads:
        todays_steps(copy.deepcopy(model), loss, [(epoch.users[0], epoch.items[0], epoch.ratings[0])])
    assert reads["unique"] >= 2 and reads["item"] >= 1


def test_first_layer_rule(data):
    model = build_model(data)
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert choose_first_layer("auto", model, cpu, compiled=False, budget_mb=4096) == "bag"
    assert choose_first_layer("auto", model, cpu, compiled=True, budget_mb=4096) == "dense"
    assert choose_first_layer("auto", model, cuda, compiled=False, budget_mb=4096) == "dense"
    assert choose_first_layer("auto", model, cuda, compiled=False, budget_mb=0) == "sparse_padded"
    assert choose_first_layer("sparse_padded", model, cuda, compiled=True, budget_mb=4096) == "sparse_padded"
    with pytest.raises(ConfigError, match="bag"):
        choose_first_layer("bag", model, cpu, compiled=True, budget_mb=4096)
    with pytest.raises(ConfigError, match="first_layer"):
        choose_first_layer("diagonal", model, cpu, compiled=False, budget_mb=4096)


needs_compiler = pytest.mark.skipif(
    shutil.which("g++") is None and shutil.which("c++") is None and shutil.which("clang++") is None,
    reason="torch.compile on CPU needs a C++ compiler",
)


@needs_compiler
def test_compiled_step_is_one_graph_without_recompilation_and_equals_todays(data):
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    with torch._dynamo.config.patch(error_on_recompile=True):
        assert_same_training(data, "dense", compiled=True)  # STEPS calls, the last one padded
    assert counters["stats"]["unique_graphs"] == 1
    assert not counters["graph_break"], dict(counters["graph_break"])


class FakeGraph:
    """Stands in for ``torch.cuda.CUDAGraph`` on the CPU: capture records the body, replay runs it."""

    capturing: FakeGraph | None = None
    captures = 0

    def __init__(self) -> None:
        self.recorded = None

    def replay(self) -> None:
        self.recorded()


class FakeCapture:
    def __init__(self, graph: FakeGraph) -> None:
        self.graph = graph

    def __enter__(self) -> None:
        FakeGraph.capturing = self.graph
        FakeGraph.captures += 1

    def __exit__(self, *exc) -> None:
        FakeGraph.capturing = None


class FakeStream:
    def wait_stream(self, other) -> None:
        pass


def test_cuda_graph_step_runs_each_batch_once_in_order(monkeypatch):
    """The capture logic of CudaGraphStep (CUDA only) with stand-ins for the CUDA calls: warm-up steps run
    eagerly, the next call captures (running nothing) and replays, later calls only replay, and every
    call trains on its own batch, copied into the same input buffers."""
    from deepmf.training import fast_step

    monkeypatch.setattr(torch.cuda, "CUDAGraph", FakeGraph)
    monkeypatch.setattr(torch.cuda, "graph", FakeCapture)
    monkeypatch.setattr(torch.cuda, "Stream", FakeStream)
    monkeypatch.setattr(torch.cuda, "current_stream", FakeStream)
    monkeypatch.setattr(torch.cuda, "stream", lambda stream: contextlib.nullcontext())
    FakeGraph.captures = 0
    seen: list[list[int]] = []
    buffers: set[int] = set()

    def body(users: torch.Tensor, items: torch.Tensor) -> None:
        def run() -> None:
            seen.append(users.tolist())
            buffers.add(users.data_ptr())

        if FakeGraph.capturing is not None:
            FakeGraph.capturing.recorded = run  # a capture records the kernels, runs none
        else:
            run()

    step = fast_step.CudaGraphStep(body, warmup_steps=2)
    batches = [torch.tensor([k, k + 1]) for k in range(0, 12, 2)]
    for batch in batches:
        step(batch, batch + 100)
    assert seen == [batch.tolist() for batch in batches]
    assert FakeGraph.captures == 1 and len(buffers) == 1
