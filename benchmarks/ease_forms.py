"""EASE^R fitted through the items (an n_items^2 inverse) against through the users (n_users^2, Woodbury).

    python benchmarks/ease_forms.py --dataset amusic [--threads 1] [--out docs/benchmarks/ease_forms.md]

Each form fits on the dataset's training split in its own process (so peak RSS is its own), then scores
every user against every item; the table gives fit seconds, peak RSS and the largest score difference
between the two forms (they are the same model: only float rounding differs).
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from pathlib import Path

from bench import build_datamodule, peak_rss_mb
from provenance import write_report

FORMS = {"through the items (n_items^2)": False, "through the users (n_users^2)": True}


def fit(dataset: str, through_users: bool, threads: int, scores_path: str, queue) -> None:
    import torch

    from deepmf.models.ease import EASE

    torch.set_num_threads(threads)
    data = build_datamodule(dataset, batch_size=256)  # EASE fits on the whole matrix: no batches
    data.setup()
    model = EASE(data.train_matrix(), l2=200.0, through_users=through_users)
    start = time.perf_counter()
    model.fit_step()
    fit_s = time.perf_counter() - start
    users = torch.arange(model.n_users)
    with torch.no_grad():
        scores = torch.cat([model.score_all(chunk, model.n_items) for chunk in users.split(256)])
    torch.save(scores, scores_path)
    queue.put({"fit_s": fit_s, "rss_mb": peak_rss_mb(), "shape": (model.n_users, model.n_items)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=("ml100k", "amusic"), default="ml100k")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    import torch

    context = multiprocessing.get_context("spawn")
    results, scores = {}, {}
    for label, through_users in FORMS.items():
        queue = context.Queue()
        path = f"/tmp/ease_forms_{through_users}.pt"
        worker = context.Process(target=fit, args=(args.dataset, through_users, args.threads, path, queue))
        worker.start()
        results[label] = queue.get()
        worker.join()
        scores[label] = torch.load(path)
        Path(path).unlink()
    items, users = FORMS  # the labels: the baseline first
    n_users, n_items = results[items]["shape"]
    difference = (scores[items] - scores[users]).abs().max().item()
    lines = [
        f"{args.dataset}: {n_users:,} users, {n_items:,} items; l2 200; {args.threads} thread(s)",
        "",
        "| EASE^R fitted | fit s | speed vs through the items | peak RSS MB |",
        "|---|---:|---:|---:|",
    ]
    for label, result in results.items():
        ratio = results[items]["fit_s"] / result["fit_s"]
        lines.append(f"| {label} | {result['fit_s']:.2f} | {ratio:.1f}x | {result['rss_mb']:,.0f} |")
    lines += ["", f"Largest difference between the two forms' scores (users x items): {difference:.2e}."]
    print("\n".join(lines))
    if args.out:
        write_report(args.out, lines)


if __name__ == "__main__":
    main()
