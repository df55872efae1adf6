"""Training pairs: every positive plus ``neg_ratio`` sampled unobserved items, built with tensor ops."""

from __future__ import annotations

import torch


def sorted_pair_keys(users: torch.Tensor, items: torch.Tensor, n_items: int) -> torch.Tensor:
    """Sorted ``user * n_items + item`` keys, for vectorised membership tests."""
    return torch.unique(users * n_items + items)


def sample_negatives(
    users: torch.Tensor,
    positive_keys: torch.Tensor,
    n_items: int,
    generator: torch.Generator,
) -> torch.Tensor:
    """For each entry of ``users``, draw an item that is not one of that user's training positives.

    Rejection sampling, all users at once: redraw only the entries that hit a positive. Items are drawn
    uniformly and with replacement, as in the paper's Algorithm 1.
    """
    items = torch.randint(n_items, users.shape, generator=generator, device=users.device)
    todo = torch.arange(len(users), device=users.device)
    while todo.numel():
        keys = users[todo] * n_items + items[todo]
        pos = torch.searchsorted(positive_keys, keys).clamp_(max=len(positive_keys) - 1)
        todo = todo[positive_keys[pos] == keys]
        if todo.numel():
            items[todo] = torch.randint(n_items, todo.shape, generator=generator, device=users.device)
    return items


def training_pairs(
    users: torch.Tensor,
    items: torch.Tensor,
    targets: torch.Tensor,
    positive_keys: torch.Tensor,
    n_items: int,
    neg_ratio: int,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Positives with their targets, then ``neg_ratio`` negatives per positive with target 0."""
    neg_users = users.repeat(neg_ratio)
    neg_items = sample_negatives(neg_users, positive_keys, n_items, generator)
    return (
        torch.cat([users, neg_users]),
        torch.cat([items, neg_items]),
        torch.cat([targets, torch.zeros_like(neg_users, dtype=targets.dtype)]),
    )
