import pytest
import torch

import deepmf.models.sparse_layers as sparse_layers
from deepmf.data.matrix import SparseRows
from deepmf.models.dmf import DMF, Tower
from deepmf.models.sparse_layers import sparse_rows_matmul, sparse_rows_two_layers
from deepmf.models.weight_blocks import block_width, to_blocks, to_matrix


def random_rows(n_rows: int, n_columns: int, density: float, seed: int) -> SparseRows:
    generator = torch.Generator().manual_seed(seed)
    dense = (torch.rand(n_rows, n_columns, generator=generator) < density) * torch.randint(
        1, 6, (n_rows, n_columns), generator=generator
    )
    rows, cols = dense.nonzero(as_tuple=True)
    return SparseRows.from_coo(
        rows.numpy(), cols.numpy(), dense[rows, cols].float().numpy(), n_rows, n_columns
    )


@pytest.mark.parametrize("block", [16, 8, 4])  # one block (the plain matrix), two, four
@pytest.mark.parametrize("plan", ["direct", "factored", "merged"])
def test_two_layers_equal_dense_rows_in_value_and_gradient(monkeypatch, plan, block):
    monkeypatch.setattr(sparse_layers, "first_layers_plan", lambda *shapes: plan)
    rows = random_rows(12, 30, 0.3, seed=0)
    batch = torch.tensor([3, 0, 7, 3, 11])  # a repeated row and rows of different lengths
    w1 = torch.randn(30, 16, requires_grad=True)
    w2 = torch.randn(5, 16, requires_grad=True)
    upstream = torch.randn(5, 5)
    blocks = to_blocks(w1.detach(), block).requires_grad_()

    got = sparse_rows_two_layers(*rows.gather(batch), blocks, w2)
    got_blocks_grad, got_w2_grad = torch.autograd.grad((got * upstream).sum(), (blocks, w2))
    expected = (rows.dense()[batch] @ w1) @ w2.T
    expected_w1_grad, expected_w2_grad = torch.autograd.grad((expected * upstream).sum(), (w1, w2))

    assert torch.allclose(got, expected, atol=1e-4)
    assert torch.allclose(to_matrix(got_blocks_grad), expected_w1_grad, atol=1e-4)
    assert torch.allclose(got_w2_grad, expected_w2_grad, atol=1e-4)


@pytest.mark.parametrize("block", [6, 3, 2])
def test_single_layer_equals_dense_rows_in_value_and_gradient(block):
    rows = random_rows(9, 20, 0.4, seed=1)
    batch = torch.tensor([8, 2, 2, 5])
    w1 = torch.randn(20, 6, requires_grad=True)
    blocks = to_blocks(w1.detach(), block).requires_grad_()
    got = sparse_rows_matmul(*rows.gather(batch), blocks)
    (got_grad,) = torch.autograd.grad(got.pow(2).sum(), blocks)
    expected = rows.dense()[batch] @ w1
    (expected_grad,) = torch.autograd.grad(expected.pow(2).sum(), w1)
    assert torch.allclose(got, expected, atol=1e-4)
    assert torch.allclose(to_matrix(got_grad), expected_grad, atol=1e-4)


def test_plan_is_chosen_by_shapes():
    plan = sparse_layers.first_layers_plan
    assert plan(n_columns=1_682, width1=512, width2=64, nnz=36_000) == "direct"  # ML-100k user tower
    assert plan(n_columns=90_000, width1=512, width2=64, nnz=15_000) == "direct"  # Amazon user tower
    assert plan(n_columns=1_000, width1=512, width2=64, nnz=40_000) == "factored"  # 40 per column
    assert plan(n_columns=1_000, width1=512, width2=64, nnz=100_000) == "merged"  # 100 per column
    merged = sparse_layers.merged_forward_is_cheaper
    assert merged(n_columns=943, width1=1024, width2=64, nnz=98_000)  # evaluation: all of ML-100k's items
    assert not merged(n_columns=943, width1=1024, width2=64, nnz=15_000)  # one training batch


@pytest.mark.parametrize("block", [16, 4])
@pytest.mark.parametrize("merged", [True, False])
def test_forward_without_gradients_equals_dense_rows(monkeypatch, merged, block):
    monkeypatch.setattr(sparse_layers, "merged_forward_is_cheaper", lambda *shapes: merged)
    rows = random_rows(12, 30, 0.3, seed=4)
    batch = torch.tensor([5, 1, 1, 10])
    w1, w2 = torch.randn(30, 16, requires_grad=True), torch.randn(5, 16, requires_grad=True)
    with torch.no_grad():
        got = sparse_rows_two_layers(*rows.gather(batch), to_blocks(w1, block), w2)
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
@pytest.mark.parametrize("block", [None, 2])  # the default (one block at these widths) and several
def test_fast_tower_matches_autograd_embedding_bag_tower(widths, block):
    rows = random_rows(10, 25, 0.3, seed=2)
    torch.manual_seed(0)
    fast = Tower(25, widths, init_std=0.3, fast_backward=True, block=block)
    plain = Tower(25, widths, init_std=0.3, fast_backward=False)
    plain.load_state_dict(fast.state_dict())
    bags = rows.gather(torch.tensor([1, 4, 9]))
    out_fast, out_plain = fast(*bags), plain(*bags)
    assert torch.allclose(out_fast, out_plain, atol=1e-6)
    out_fast.sum().backward()
    out_plain.sum().backward()
    for (name, a), b in zip(fast.named_parameters(), plain.parameters()):
        fast_grad = to_matrix(a.grad) if name == "first" else a.grad
        assert torch.allclose(fast_grad, b.grad.view_as(fast_grad), atol=1e-6), name


@pytest.mark.parametrize("block", [None, 4])  # one block at these widths, and 4 / 3 blocks
def test_fast_dmf_trains_like_plain_dmf_under_fused_adam(block):
    """Same initial weights, same batches: fast backward + fused Adam track autograd + plain Adam, with
    ``W1`` in one block or several."""
    rows = random_rows(15, 25, 0.3, seed=3)
    torch.manual_seed(0)
    fast = DMF(rows, [16, 8], [12, 8], init_std=0.1, fast_backward=True, block=block)
    plain = DMF(rows, [16, 8], [12, 8], init_std=0.1, fast_backward=False)
    plain.load_state_dict(fast.state_dict())
    initial = fast.user_tower.first_matrix().detach().clone()
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
    for (name, a), b in zip(fast.state_dict().items(), plain.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-5), name
    assert not torch.allclose(fast.user_tower.first_matrix(), initial, atol=1e-3)  # training moved it


def test_first_layer_blocks_fit_the_cache_at_paper_widths():
    assert block_width(n_columns=1_682, width=512) == 128  # ML-100k user tower: 1682 x 128 floats, 861 KB
    assert block_width(n_columns=943, width=1024) == 256  # ML-100k item tower: 943 x 256 floats, 966 KB
    assert block_width(n_columns=6_040, width=1024) == 128  # ML-1M item tower: no smaller than 128
    assert block_width(n_columns=200, width=512) == 512  # small: one block
    assert block_width(n_columns=90_000, width=64) == 64  # DMF-1 widths stay whole


def test_state_dict_holds_w1_as_the_papers_matrix_whatever_the_blocks():
    torch.manual_seed(0)
    blocked = Tower(25, [8, 4], init_std=0.3, block=2)
    assert blocked.first.shape == (4, 25, 2)
    state = blocked.state_dict()
    assert state["first"].shape == (25, 8)
    assert torch.equal(state["first"], blocked.first_matrix())
    assert torch.equal(state["first"][:, 2:4], blocked.first[1])  # block j holds columns 2j, 2j+1

    other = Tower(25, [8, 4], init_std=0.3, block=4)
    other.load_state_dict(state)
    assert torch.equal(other.first_matrix(), blocked.first_matrix())
    bags = random_rows(6, 25, 0.4, seed=7).gather(torch.tensor([0, 3, 5]))
    assert torch.allclose(other(*bags), blocked(*bags), atol=1e-6)


@pytest.mark.parametrize("saved_as", ["matrix", "other blocks"])
def test_optimiser_state_of_w1_in_another_layout_is_brought_to_the_blocks(saved_as):
    """A checkpoint's Adam moments for W1 as the matrix (deepmf before blocks) or in another blocking are
    put in the parameter's blocks on load; fused Adam would otherwise apply them in memory order."""
    from deepmf.training.module import RecommenderModule

    rows = random_rows(15, 25, 0.3, seed=8)
    torch.manual_seed(0)
    model = DMF(rows, [16, 8], [12, 8], init_std=0.1, block=4)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, fused=True)
    model(torch.tensor([0, 3, 7]), torch.tensor([1, 2, 2])).log().mean().neg().backward()
    optimizer.step()
    saved = optimizer.state_dict()
    first = list(model.parameters()).index(model.user_tower.first)
    expected = {key: value.clone() for key, value in saved["state"][first].items()}
    for key in ("exp_avg", "exp_avg_sq"):
        matrix = to_matrix(saved["state"][first][key])
        saved["state"][first][key] = matrix if saved_as == "matrix" else to_blocks(matrix, 2)

    RecommenderModule(model, None, 1e-2, [10], 25).on_load_checkpoint({"optimizer_states": [saved]})  # type: ignore[arg-type]
    for key, value in expected.items():
        assert torch.equal(saved["state"][first][key], value), key


def test_w1_of_another_shape_is_refused_in_the_papers_terms():
    tower = Tower(25, [8, 4], init_std=0.3, block=2)
    state = Tower(25, [6, 4], init_std=0.3).state_dict()
    with pytest.raises(RuntimeError, match=r"first: W1 is \(25, 6\) in the state dict, \(25, 8\) here"):
        tower.load_state_dict(state)
    with pytest.raises(ValueError, match="block=0"):
        Tower(25, [8, 4], init_std=0.3, block=0)


@pytest.mark.parametrize("plan", ["direct", "factored", "merged"])
@pytest.mark.parametrize("batch", [[0, 2, 1, 4], [4, 4]])  # empty rows first / middle / last; only empty
def test_two_layers_handle_empty_rows_and_columns(monkeypatch, plan, batch):
    monkeypatch.setattr(sparse_layers, "first_layers_plan", lambda *shapes: plan)
    # Rows 0, 1 and 4 are empty; columns 0 and 5 hold nothing.
    rows = SparseRows.from_coo(
        torch.tensor([2, 2, 3, 3]).numpy(),
        torch.tensor([1, 4, 2, 4]).numpy(),
        torch.tensor([3.0, 1.0, 5.0, 2.0]).numpy(),
        5,
        6,
    )
    w1, w2 = torch.randn(6, 8, requires_grad=True), torch.randn(3, 8, requires_grad=True)
    blocks = to_blocks(w1.detach(), 2).requires_grad_()
    index = torch.tensor(batch)
    got = sparse_rows_two_layers(*rows.gather(index), blocks, w2)
    got_grads = torch.autograd.grad(got.sum(), (blocks, w2))
    expected = (rows.dense()[index] @ w1) @ w2.T
    expected_grads = torch.autograd.grad(expected.sum(), (w1, w2))
    assert torch.allclose(got, expected, atol=1e-5)
    assert torch.allclose(to_matrix(got_grads[0]), expected_grads[0], atol=1e-5)
    assert torch.allclose(got_grads[1], expected_grads[1], atol=1e-5)
