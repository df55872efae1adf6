"""The first layer's weight stored as column blocks, so that an embedding-bag reads it from cache.

``W1`` (``n_columns x width``) is kept as ``k`` blocks of ``block`` columns, each contiguous: a tensor
``(k, n_columns, block)`` with ``blocks[j] = W1[:, j*block:(j+1)*block]``. A weighted embedding-bag over
a batch's rows of Y then runs once over all blocks (the bags repeated ``k`` times, block after block, in
one call): while it works on block ``j`` it reads only ``n_columns x block`` floats, which stay in a core's
cache when ``n_columns`` is small enough (ML-100k: 861 / 966 KB blocks), where a full-width ``W1`` row
gather streams the whole matrix from memory for every batch. The values, the gradients and the
optimiser's updates are those of ``W1`` itself up to float32 rounding (the layout is all that changes);
on ML-100k at the paper's widths a training step is 1.1-1.25x faster on CPU (``benchmarks/bench.py``,
``deepmf`` against ``deepmf-1block``), about 1.1x at ML-1M scale, where blocks no longer fit in L2, and
no faster at Amazon-movies scale. Checkpoints hold ``W1`` as the paper's ``n_columns x width`` matrix
(see ``deepmf.models.dmf.Tower``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

Bags = tuple[torch.Tensor, torch.Tensor, torch.Tensor]

#: A block (``n_columns x block`` float32) should fit in this many bytes (a core's L2 cache)...
BLOCK_BYTES = 1 << 20
#: ...but blocks narrower than this cost more in repeated bags than the cache saves (measured on
#: ML-100k, ML-1M and Amazon-movies scales: 64 was slower than 128 at every scale).
MIN_BLOCK = 128


def block_width(n_columns: int, width: int) -> int:
    """``width`` halved until ``n_columns x block`` floats fit in :data:`BLOCK_BYTES` or the next halving
    would go below :data:`MIN_BLOCK` (so a block can exceed :data:`BLOCK_BYTES` when ``n_columns`` is
    large); ``width`` itself when it fits or is small."""
    block = width
    while block % 2 == 0 and block // 2 >= MIN_BLOCK and n_columns * block * 4 > BLOCK_BYTES:
        block //= 2
    return block


def to_blocks(matrix: torch.Tensor, block: int) -> torch.Tensor:
    """``(n_columns, width)`` -> ``(width // block, n_columns, block)``, contiguous."""
    n_columns, width = matrix.shape
    if width % block:
        raise ValueError(f"block width {block} does not divide the layer width {width}")
    return matrix.reshape(n_columns, width // block, block).transpose(0, 1).contiguous()


def to_matrix(blocks: torch.Tensor) -> torch.Tensor:
    """``(k, n_columns, block)`` -> the ``(n_columns, k * block)`` matrix (a view when ``k == 1``)."""
    k, n_columns, block = blocks.shape
    return blocks.transpose(0, 1).reshape(n_columns, k * block)


def repeat_bags(bags: Bags, n_table_rows: int, k: int) -> Bags:
    """The bags once per block: copy ``j`` indexes block ``j`` of a ``(k * n_table_rows, block)`` table."""
    indices, offsets, values = bags
    if k == 1:
        return bags
    blocks = torch.arange(k, device=indices.device)[:, None]
    return (
        (indices + blocks * n_table_rows).reshape(-1),
        (offsets + blocks * len(indices)).reshape(-1),
        values.repeat(k),
    )


def blocked_bags_matmul(bags: Bags, table: torch.Tensor) -> torch.Tensor:
    """``A @ table`` per block: ``table`` is ``(k, n, block)`` (``A`` has ``n`` columns); returns
    ``(k, n_bags, block)``, block ``j`` being ``A @ table[j]``."""
    k, n_table_rows, block = table.shape
    indices, offsets, values = repeat_bags(bags, n_table_rows, k)
    out = F.embedding_bag(
        indices, table.reshape(k * n_table_rows, block), offsets, mode="sum", per_sample_weights=values
    )
    return out.view(k, -1, block)


def reblock_optimizer_state(parameters: list[torch.Tensor], optimizer_state: dict) -> None:
    """In place: the per-parameter state of an optimiser's ``state_dict`` (``parameters`` in the order it
    was given them) saved for a blocked ``W1`` in another layout (the matrix, as deepmf wrote it before it
    kept ``W1`` in blocks, or another blocking) is put in the parameter's blocks. PyTorch's Adam accepts a
    moment of another shape and applies it element by element in memory order, silently."""
    for index, state in optimizer_state.get("state", {}).items():
        parameter = parameters[index]
        if parameter.dim() != 3:  # only W1's blocks are 3-D
            continue
        for key, value in state.items():
            if (
                torch.is_tensor(value)
                and value.numel() == parameter.numel()
                and value.shape != parameter.shape
            ):
                matrix = value if value.dim() == 2 else to_matrix(value)
                state[key] = to_blocks(matrix, parameter.shape[2])
