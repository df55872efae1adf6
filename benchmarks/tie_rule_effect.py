"""How much the test item's tie rule moves ItemPop and EASE on ML-100k (evidence, not part of the pipeline).

In ML-100k, 415 of 943 users have several ratings at their latest timestamp. Taking the one with the largest
original item id (the split's first rule) picks the least popular tied item, since MovieLens ids grow with the
catalogue; the split now breaks ties by a seeded random item order, which this script shows is unbiased.
This script re-splits (test = latest rating, no validation hold-out, 100 uniform negatives, pessimistic ranks)
with that rule and with a random choice among the ties, and prints HR@10 / NDCG@10 of ItemPop and EASE^R.
    DEEPMF_DATA_DIR=... python benchmarks/tie_rule_effect.py
"""

from __future__ import annotations

import os

import numpy as np


def main() -> None:
    path = os.path.join(os.environ.get("DEEPMF_DATA_DIR", "data"), "ml-100k", "u.data")
    d = np.loadtxt(path, dtype=np.int64)
    u, i, t = d[:, 0] - 1, d[:, 1] - 1, d[:, 3]
    n_users, n_items = u.max() + 1, i.max() + 1
    rng = np.random.default_rng(0)
    latest = np.zeros(n_users, np.int64)
    np.maximum.at(latest, u, t)
    tied = np.bincount(u[t == latest[u]], minlength=n_users)
    print(f"users with >1 rating at their latest timestamp: {(tied > 1).sum()} of {n_users}")
    known = np.zeros((n_users, n_items), bool)
    known[u, i] = True
    for rule in ("largest id", "random"):
        tiebreak = i if rule == "largest id" else rng.random(len(u))
        order = np.lexsort((tiebreak, t, u))
        last = np.r_[np.flatnonzero(np.diff(u[order])), len(u) - 1]
        test = np.zeros(len(u), bool)
        test[order[last]] = True
        X = np.zeros((n_users, n_items))
        X[u[~test], i[~test]] = 1
        precision = np.linalg.inv(X.T @ X + 200 * np.eye(n_items))
        B = -precision / np.diag(precision)
        np.fill_diagonal(B, 0)
        scores = {"ItemPop": np.broadcast_to(X.sum(0), X.shape), "EASE l2=200": X @ B}
        unseen = [np.flatnonzero(~known[a]) for a in range(n_users)]  # evidence script: a loop is fine
        negatives = np.stack([rng.choice(items, 100, replace=False) for items in unseen])
        users, targets = u[test], i[test]
        for name, S in scores.items():
            ranks = (S[users[:, None], negatives[users]] >= S[users, targets][:, None]).sum(1)
            hit = ranks < 10
            ndcg = (hit / np.log2(ranks + 2)).mean()
            print(f"{rule:18} {name:12} HR@10 {hit.mean():.4f}  NDCG@10 {ndcg:.4f}")


if __name__ == "__main__":
    main()
