"""Training throughput, evaluation time and peak memory of DMF, against a dense-row reference (and RecBole).

    python benchmarks/bench.py                                  # all datasets, markdown table on stdout
    python benchmarks/bench.py --datasets ml100k --threads 2    # one dataset, two threads

Each run is a fresh subprocess (so peak RSS is per configuration) that builds the dataset, the model and
the optimiser, runs ``--steps`` warm training steps on the real on-device batches and extrapolates to an
epoch (``len(batches)`` steps, plus the epoch's negative sampling, measured once). Every configuration runs
``--repeats`` times, in rounds whose order rotates; the table gives medians, and ratios between medians.
Implementations, all the same model at paper widths ([512, 64] / [1024, 64], cosine, Adam):

- ``deepmf``: the library's DMF (sparse first layers with the fast backward, fused Adam), plain loop;
- ``deepmf+lightning``: the same through ``pl.Trainer`` and ``RecommenderModule`` (what ``train.py`` runs);
- ``deepmf-1block``: ``deepmf`` with each ``W1`` as one matrix instead of cache-sized column blocks
  (``deepmf.models.weight_blocks``): the same values, the layout before blocks;
- ``embbag``: the library's DMF with autograd through ``F.embedding_bag`` and default Adam (the plain
  embedding-bag prototype of docs/anchors);
- ``dense``: ``benchmarks/dense_reference.py`` (dense rows of Y, one tower pass per pair);
- ``recbole``: RecBole's DMF at the same widths, run by ``benchmarks/recbole_worker.py`` in a separate
  venv (``DEEPMF_RECBOLE_PYTHON``, default ``.bench/recbole-venv/bin/python``); skipped, with the reason,
  when that venv does not exist (see the README).

Evaluation: all users, sampled (100 negatives) and full ranking, every tower output computed once.
Timings are wall-clock; ``cpu_ms/step`` is process CPU time, steadier when the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from provenance import write_report

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("DEEPMF_DATA_DIR", ROOT / "data"))
CACHE_DIR = Path(os.environ.get("DEEPMF_CACHE_DIR", ROOT / ".cache" / "deepmf"))
RECBOLE_PYTHON = Path(
    os.environ.get("DEEPMF_RECBOLE_PYTHON", ROOT / ".bench" / "recbole-venv" / "bin" / "python")
)
DATASETS = ["ml100k", "ml1m-partial", "synthetic-ml1m", "synthetic-amazon_movies"]
IMPLS = ["deepmf+lightning", "deepmf", "deepmf-1block", "embbag", "dense", "recbole"]
#: Dense Y above this many floats is not attempted (Amazon scale would need 5.4 GB for Y alone).
DENSE_LIMIT = 200_000_000


def build_datamodule(name: str, batch_size: int):
    sys.path.insert(0, str(ROOT / "src"))
    from deepmf.data.amazon import AmazonMusicDMF
    from deepmf.data.movielens import MovieLens1M, MovieLens100K
    from deepmf.data.synthetic import SyntheticDataModule

    common = {"cache_dir": str(CACHE_DIR), "batch_size": batch_size}
    if name == "ml100k":
        return MovieLens100K(data_dir=str(DATA_DIR), **common)
    if name == "amusic":  # not in DATASETS, this script's default set (benchmarks/ease_forms.py uses it)
        return AmazonMusicDMF(data_dir=str(DATA_DIR), **common)
    if name == "ml1m-partial":
        path = DATA_DIR / "ml-1m" / "ratings.PARTIAL-users1-2999.dat.gz"
        return MovieLens1M(ratings_path=str(path), **common)
    if name.startswith("synthetic-"):
        return SyntheticDataModule(preset=name.removeprefix("synthetic-"), **common)
    raise SystemExit(f"unknown dataset {name!r}; choose from {[*DATASETS, 'amusic']}")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(spec: dict) -> dict:
    """One configuration, in this process: train ``steps`` steps, then (optionally) evaluate."""

    sys.path.insert(0, str(ROOT))
    from benchmarks.dense_reference import DenseRowDMF
    from deepmf.evaluation.ranking import rank_batch
    from deepmf.losses import PointwiseLoss
    from deepmf.models.dmf import DMF

    torch.set_num_threads(spec["threads"])
    datamodule = build_datamodule(spec["dataset"], spec["batch"])
    datamodule.setup()
    matrix = datamodule.train_matrix()
    impl, steps, warmup = spec["impl"], spec["steps"], spec["warmup"]
    widths = ([512, 64], [1024, 64], 0.01)
    if impl == "dense":
        model = DenseRowDMF(matrix, *widths)
    else:
        one_block = 10**9 if impl == "deepmf-1block" else None  # W1 as one matrix: the layout before blocks
        model = DMF(matrix, *widths, fast_backward=impl != "embbag", block=one_block)
    loss_fn = PointwiseLoss("nce", datamodule.max_rating)
    result = {
        "pairs": datamodule.train_dataloader().n_pairs,
        "steps_per_epoch": len(datamodule.train_dataloader()),
    }

    started = time.perf_counter()
    pairs = datamodule.train_dataloader().epoch_pairs(0)
    result["sampling_s"] = time.perf_counter() - started
    batches = [
        tuple(t[i * spec["batch"] : (i + 1) * spec["batch"]] for t in pairs) for i in range(warmup + steps)
    ]

    epoch_end_s = 0.0
    if impl == "deepmf+lightning":
        wall, cpu, epoch_end_s = lightning_steps(model, loss_fn, datamodule, warmup, steps)
    else:
        fused = impl.startswith("deepmf")
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, fused=fused)
        for i, (users, items, ratings) in enumerate(batches):
            if i == warmup:
                wall, cpu = time.perf_counter(), time.process_time()
            loss = loss_fn(model(users, items), ratings)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    step_s = wall / steps
    result |= {
        "step_ms": 1000 * step_s,
        "cpu_ms_per_step": 1000 * cpu / steps,
        "pairs_per_s": spec["batch"] / step_s,
        "pairs_per_step": spec["batch"],
        "s_per_epoch": result["sampling_s"] + step_s * result["steps_per_epoch"] + epoch_end_s,
    }
    if spec["evaluate"]:
        model.eval()
        started = time.perf_counter()
        with torch.no_grad():
            model.prepare_evaluation()
            for batch in datamodule.test_dataloader():
                rank_batch(model, batch, datamodule.n_items)
        result["eval_s"] = time.perf_counter() - started
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def lightning_steps(model, loss_fn, datamodule, warmup: int, steps: int) -> tuple[float, float, float]:
    """Wall and CPU seconds of ``steps`` Lightning training steps after ``warmup`` ones, and the wall seconds
    of the epoch's last step, which also logs the epoch's loss: a once-per-epoch cost, added once to the
    epoch (inside the steps' window it would be counted once per step of the extrapolated epoch)."""
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import TQDMProgressBar

    from deepmf.training.module import RecommenderModule

    marks: dict[str, float] = {}

    class Clock(pl.Callback):
        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            if batch_idx == warmup:
                marks["wall"], marks["cpu"] = time.perf_counter(), time.process_time()
            if batch_idx == warmup + steps:
                marks["last"] = time.perf_counter()

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            if batch_idx == warmup + steps - 1:
                marks["wall"] = time.perf_counter() - marks["wall"]
                marks["cpu"] = time.process_time() - marks["cpu"]
            if batch_idx == warmup + steps:
                marks["last"] = time.perf_counter() - marks["last"]

    module = RecommenderModule(model, loss_fn, 1e-4, [10], datamodule.n_items)
    trainer = pl.Trainer(
        accelerator="cpu",
        max_epochs=1,
        limit_train_batches=warmup + steps + 1,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        callbacks=[Clock(), TQDMProgressBar(refresh_rate=500)],  # as train.py does off a terminal
    )
    trainer.fit(module, datamodule=datamodule)
    return marks["wall"], marks["cpu"], marks["last"]


def export_train(dataset: str) -> Path:
    """The split's training interactions as an .npz that the RecBole venv can read without deepmf."""
    import numpy as np

    datamodule = build_datamodule(dataset, 256)
    datamodule.setup()
    split = datamodule.split
    path = CACHE_DIR / "bench" / f"{dataset}-train.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, users=split.train_users, items=split.train_items, ratings=split.train_ratings)
    return path


def run_one(spec: dict) -> dict:
    """Run a configuration in a fresh process (RecBole: in its own venv)."""
    if spec["impl"] == "recbole":
        if not RECBOLE_PYTHON.exists():
            return {"skipped": f"no RecBole venv at {RECBOLE_PYTHON} (see README, 'Benchmarks')"}
        spec = {**spec, "export": str(export_train(spec["dataset"]))}
        command = [str(RECBOLE_PYTHON), str(ROOT / "benchmarks" / "recbole_worker.py"), json.dumps(spec)]
    else:
        command = [sys.executable, __file__, "--worker", json.dumps(spec)]
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"skipped": f"failed: {(done.stderr or done.stdout).strip().splitlines()[-1:]}"}
    return json.loads(lines[-1])


def fmt(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def median_result(runs: list[dict]) -> dict:
    """The median of each timing over repeated runs of one configuration, the largest peak RSS."""
    result = {"pairs_per_step": runs[0]["pairs_per_step"]}
    for key in ("s_per_epoch", "pairs_per_s", "cpu_ms_per_step", "eval_s"):
        values = [run[key] for run in runs if run.get(key) is not None]
        result[key] = statistics.median(values) if values else None
    result["s_per_epoch_range"] = (min(r["s_per_epoch"] for r in runs), max(r["s_per_epoch"] for r in runs))
    result["peak_rss_mb"] = max(run["peak_rss_mb"] for run in runs)
    return result


def group_specs(dataset: str, batch: int, args: argparse.Namespace) -> list[dict]:
    """The configurations compared at one (dataset, batch); the dense reference only at batch 256."""
    steps = max(10, args.steps * 256 // batch)
    return [
        {
            "dataset": dataset,
            "impl": impl,
            "batch": batch,
            "threads": args.threads,
            "steps": steps if impl != "dense" else max(10, steps // 4),
            "warmup": 5,
            "evaluate": batch == 256 and impl != "deepmf+lightning",
        }
        for impl in args.impls
        if impl != "dense" or batch == 256
    ]


def dense_too_large(datamodule) -> str | None:
    if datamodule.n_users * datamodule.n_items <= DENSE_LIMIT:
        return None
    return f"dense Y needs {datamodule.n_users * datamodule.n_items * 4 / 1e9:.1f} GB"


def batch_rows(dataset: str, datamodule, n_batches: int = 200) -> str:
    """How much of Y a training step's towers read: the mean distinct users and items of a batch and how
    dense their rows of Y are (users are drawn by activity, so their rows are denser than Y's average)."""
    batch = datamodule.batch_size
    matrix = datamodule.train_matrix()
    users, items, _ = datamodule.train_dataloader().epoch_pairs(0)
    stats = []
    for rows, sizes in ((users, matrix), (items, matrix.transpose())):
        lengths = sizes.indptr[1:] - sizes.indptr[:-1]
        distinct = [torch.unique(rows[i * batch : (i + 1) * batch]) for i in range(n_batches)]
        mean_rows = sum(len(d) for d in distinct) / n_batches
        mean_nnz = sum(int(lengths[d].sum()) for d in distinct) / n_batches
        stats.append((mean_rows, mean_nnz, sizes.n_columns, mean_nnz / mean_rows / sizes.n_columns))
    (u_rows, u_nnz, u_cols, u_density), (i_rows, i_nnz, i_cols, i_density) = stats
    density = len(matrix.values) / (matrix.n_rows * matrix.n_columns)
    return (
        f"{dataset}, batch {batch}: per step {u_rows:.0f} distinct users, {u_nnz:,.0f} non-zeros in their "
        f"rows of {u_cols:,} columns ({u_density:.1%} dense), {i_rows:.0f} distinct items, {i_nnz:,.0f} "
        f"non-zeros in their columns of {i_cols:,} ({i_density:.1%}); Y itself is {density:.1%} dense"
    )


def measure_group(specs: list[dict], repeats: int) -> dict[str, dict]:
    """Each configuration ``repeats`` times, in rounds whose order rotates, so that slow spells of a
    shared machine fall on every configuration alike; returns the median result (or why it was skipped)."""
    runs: dict[str, list[dict]] = {spec["impl"]: [] for spec in specs}
    skipped: dict[str, str] = {}
    for round_ in range(repeats):
        for spec in specs[round_ % len(specs) :] + specs[: round_ % len(specs)]:
            if spec["impl"] in skipped:
                continue
            result = run_one(spec)
            if "skipped" in result:
                skipped[spec["impl"]] = result["skipped"]
            else:
                runs[spec["impl"]].append(result)
    return {
        impl: {"skipped": skipped[impl]} if impl in skipped else median_result(results)
        for impl, results in runs.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=DATASETS)
    parser.add_argument("--impls", nargs="+", default=IMPLS)
    parser.add_argument("--batches", nargs="+", type=int, default=[256, 4096])
    parser.add_argument("--steps", type=int, default=200, help="timed steps at batch 256 (fewer for larger)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each configuration (medians)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, help="also write the table (with its command and machine) here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return

    lines: list[str] = []

    def say(line: str = "") -> None:
        print(line, flush=True)
        lines.append(line)

    say(
        f"threads={args.threads}, steps={args.steps} at batch 256 (scaled down for larger batches); "
        f"each figure is the median of {args.repeats} runs (rounds in rotating order), s/epoch range "
        "= fastest and slowest run; ratios are between medians\n"
    )
    say(
        "| dataset | batch | implementation | pairs/s | s/epoch | s/epoch range | cpu ms/step | eval s "
        "| peak RSS MB | wall / first row of its batch | CPU per pair / first row of its batch |"
    )
    say("|---" * 11 + "|")
    footnotes = []
    for dataset in args.datasets:
        datamodule = build_datamodule(dataset, 256)  # the paper's batch, for the footnote
        datamodule.setup()
        footnotes.append(f"- {batch_rows(dataset, datamodule)}")
        too_large = dense_too_large(datamodule) if "dense" in args.impls else None
        for batch in args.batches:
            specs = group_specs(dataset, batch, args)
            if too_large:
                specs = [spec for spec in specs if spec["impl"] != "dense"]
                if batch == 256:
                    say(f"| {dataset} | {batch} | dense | skipped: {too_large} |" + " |" * 7)
            base = None
            for impl, result in measure_group(specs, args.repeats).items():
                if "skipped" in result:
                    say(f"| {dataset} | {batch} | {impl} | skipped: {result['skipped']} |" + " |" * 7)
                    continue
                cpu_per_pair = result["cpu_ms_per_step"] / result["pairs_per_step"]
                base = base or (result["s_per_epoch"], cpu_per_pair)
                low, high = result["s_per_epoch_range"]
                say(
                    f"| {dataset} | {batch} | {impl} | {fmt(result['pairs_per_s'], 0)} "
                    f"| {fmt(result['s_per_epoch'])} | {fmt(low)}-{fmt(high)} "
                    f"| {fmt(result['cpu_ms_per_step'], 2)} "
                    f"| {fmt(result['eval_s'], 2)} | {fmt(result['peak_rss_mb'], 0)} "
                    f"| {result['s_per_epoch'] / base[0]:.2f}x | {cpu_per_pair / base[1]:.2f}x |"
                )
    say()
    for footnote in footnotes:
        say(footnote)
    if args.out:
        write_report(args.out, lines)


if __name__ == "__main__":
    main()
