import pytest
import torch

import deepmf.models.sparse_layers as sparse_layers
from deepmf.data.matrix import SparseRows
from deepmf.models.dmf import DMF, Tower
from deepmf.models.sparse_layers import sparse_rows_matmul, sparse_rows_two_layers


def random_rows(n_rows: int, n_columns: int, density: float, seed: int) -> SparseRows:
    generator = torch.Generator().manual_seed(seed)
    dense = (torch.rand(n_rows, n_columns, generator=generator) < density) * torch.randint(
        1, 6, (n_rows, n_columns), generator=generator
    )
    rows, cols = dense.nonzero(as_tuple=True)
    return SparseRows.from_coo(
        rows.numpy(), cols.numpy(), dense[rows, cols].float().numpy(), n_rows, n_columns
    )


@pytest.mark.parametrize("plan", ["direct", "factored", "merged"])
def test_two_layers_equal_dense_rows_in_value_and_gradient(monkeypatch, plan):
    monkeypatch.setattr(sparse_layers, "first_layers_plan", lambda *shapes: plan)
    rows = random_rows(12, 30, 0.3, seed=0)
    batch = torch.tensor([3, 0, 7, 3, 11])  # a repeated row and rows of different lengths
    w1 = torch.randn(30, 16, requires_grad=True)
    w2 = torch.randn(5, 16, requires_grad=True)
    upstream = torch.randn(5, 5)

    got = sparse_rows_two_layers(*rows.gather(batch), w1, w2)
    got_grads = torch.autograd.grad((got * upstream).sum(), (w1, w2))
    expected = (rows.dense()[batch] @ w1) @ w2.T
    expected_grads = torch.autograd.grad((expected * upstream).sum(), (w1, w2))

    assert torch.allclose(got, expected, atol=1e-4)
    for g, e in zip(got_grads, expected_grads):
        assert torch.allclose(g, e, atol=1e-4)


def test_single_layer_equals_dense_rows_in_value_and_gradient():
    rows = random_rows(9, 20, 0.4, seed=1)
    batch = torch.tensor([8, 2, 2, 5])
    w1 = torch.randn(20, 6, requires_grad=True)
    got = sparse_rows_matmul(*rows.gather(batch), w1)
    (got_grad,) = torch.autograd.grad(got.pow(2).sum(), w1)
    expected = rows.dense()[batch] @ w1
    (expected_grad,) = torch.autograd.grad(expected.pow(2).sum(), w1)
    assert torch.allclose(got, expected, atol=1e-4)
    assert torch.allclose(got_grad, expected_grad, atol=1e-4)


def test_plan_is_chosen_by_shapes():
    plan = sparse_layers.first_layers_plan
    assert plan(n_columns=1_682, width1=512, width2=64, nnz=36_000) == "direct"  # ML-100k user tower
    assert plan(n_columns=90_000, width1=512, width2=64, nnz=15_000) == "direct"  # Amazon user tower
    assert plan(n_columns=1_000, width1=512, width2=64, nnz=40_000) == "factored"  # 40 per column
    assert plan(n_columns=1_000, width1=512, width2=64, nnz=100_000) == "merged"  # 100 per column
    merged = sparse_layers.merged_forward_is_cheaper
    assert merged(n_columns=943, width1=1024, width2=64, nnz=98_000)  # evaluation: all of ML-100k's items
    assert not merged(n_columns=943, width1=1024, width2=64, nnz=15_000)  # one training batch


@pytest.mark.parametrize("merged", [True, False])
def test_forward_without_gradients_equals_dense_rows(monkeypatch, merged):
    monkeypatch.setattr(sparse_layers, "merged_forward_is_cheaper", lambda *shapes: merged)
    rows = random_rows(12, 30, 0.3, seed=4)
    batch = torch.tensor([5, 1, 1, 10])
    w1, w2 = torch.randn(30, 16, requires_grad=True), torch.randn(5, 16, requires_grad=True)
    with torch.no_grad():
        got = sparse_rows_two_layers(*rows.gather(batch), w1, w2)
    assert torch.allclose(got, (rows.dense()[batch] @ w1.detach()) @ w2.detach().T, atol=1e-4)


def test_transposed_bags_hold_each_column_with_its_rows_in_order():
    rows = random_rows(7, 9, 0.4, seed=5)
    batch = torch.tensor([6, 2, 4])
    indices, offsets, values = rows.gather(batch)
    bag_ids, starts, bag_values = sparse_layers.transpose_bags(indices, offsets, values, n_columns=9)
    dense = rows.dense()[batch]  # (3, 9)
    ends = torch.cat([starts[1:], starts.new_tensor([len(bag_ids)])])
    for column in range(9):
        expected_rows = dense[:, column].nonzero().flatten()
        got = bag_ids[starts[column] : ends[column]]
        assert got.tolist() == expected_rows.tolist()
        assert torch.equal(bag_values[starts[column] : ends[column]], dense[expected_rows, column])


@pytest.mark.parametrize(
    ("n_columns", "nnz"),
    [
        (50, 300),  # int16 keys, padded to the radix-sort length
        (40_000, 300),  # int32 keys (columns past int16), padded
        (50, sparse_layers.CPU_RADIX_MIN + 1_000),  # long enough: no padding
    ],
)
def test_transposed_bags_equal_a_stable_argsort_for_every_key_width(n_columns, nnz):
    generator = torch.Generator().manual_seed(6)
    lengths = torch.full((10,), nnz // 10)
    offsets = torch.cumsum(lengths, 0) - lengths
    indices = torch.randint(n_columns, (int(lengths.sum()),), generator=generator)
    values = torch.rand(len(indices), generator=generator)
    bag_ids, starts, bag_values = sparse_layers.transpose_bags(indices, offsets, values, n_columns)

    order = torch.argsort(indices, stable=True)
    assert torch.equal(bag_ids, torch.arange(10).repeat_interleave(lengths)[order])
    assert torch.equal(bag_values, values[order])
    expected_starts = torch.cumsum(torch.bincount(indices, minlength=n_columns), 0)
    assert torch.equal(starts.long(), torch.cat([torch.zeros(1, dtype=torch.long), expected_starts[:-1]]))


@pytest.mark.parametrize("widths", [[8, 4], [8, 6, 4], [4]])
def test_fast_tower_matches_autograd_embedding_bag_tower(widths):
    rows = random_rows(10, 25, 0.3, seed=2)
    torch.manual_seed(0)
    fast = Tower(25, widths, init_std=0.3, fast_backward=True)
    plain = Tower(25, widths, init_std=0.3, fast_backward=False)
    plain.load_state_dict(fast.state_dict())
    bags = rows.gather(torch.tensor([1, 4, 9]))
    out_fast, out_plain = fast(*bags), plain(*bags)
    assert torch.allclose(out_fast, out_plain, atol=1e-6)
    out_fast.sum().backward()
    out_plain.sum().backward()
    for (name, a), b in zip(fast.named_parameters(), plain.parameters()):
        assert torch.allclose(a.grad, b.grad, atol=1e-6), name


def test_fast_dmf_trains_like_plain_dmf_under_fused_adam():
    """Same initial weights, same batches: fast backward + fused Adam track autograd + plain Adam."""
    rows = random_rows(15, 25, 0.3, seed=3)
    torch.manual_seed(0)
    fast = DMF(rows, [16, 8], [12, 8], init_std=0.1, fast_backward=True)
    plain = DMF(rows, [16, 8], [12, 8], init_std=0.1, fast_backward=False)
    plain.load_state_dict(fast.state_dict())
    initial = fast.user_tower.first.detach().clone()
    opt_fast = torch.optim.Adam(fast.parameters(), lr=1e-2, fused=True)
    opt_plain = torch.optim.Adam(plain.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        users = torch.randint(15, (32,), generator=generator)
        items = torch.randint(25, (32,), generator=generator)
        for model, opt in ((fast, opt_fast), (plain, opt_plain)):
            opt.zero_grad()
            model(users, items).log().mean().neg().backward()
            opt.step()
    for (name, a), b in zip(fast.named_parameters(), plain.parameters()):
        assert torch.allclose(a, b, atol=1e-5), name
    assert not torch.allclose(fast.user_tower.first, initial, atol=1e-3)  # training moved the weights
