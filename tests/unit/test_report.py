"""deepmf.report on hand-made run folders: layouts, statistics, failures, figure, results document."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import pandas as pd

from deepmf.report.__main__ import main
from deepmf.report.aggregate import aggregate
from deepmf.report.collect import find_jobs
from deepmf.report.results import write_results

ROOT = Path(__file__).resolve().parents[2]


def make_run(folder: Path, model: dict, loss: str, dataset: str, seed: int, metrics: dict | None, **extra):
    """A run folder as train.py leaves it (metrics.json + .hydra/overrides.yaml); None: a failed run."""
    folder.mkdir(parents=True)
    overrides = [f"data={dataset}", f"seed={seed}", *extra.pop("overrides", [])]
    (folder / ".hydra").mkdir()
    (folder / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    config = {
        "seed": seed,
        "model": model,
        "loss": {"name": loss},
        "data": {"input": "rating", "neg_ratio": 7, "eval_negatives": 100},
        "trainer": {"max_epochs": 3},
        "report": extra.pop("report", None),
    } | extra.pop("config", {})
    record = {"status": "failed", "error": "RuntimeError: boom", "seed": seed, "config": config}
    if metrics is not None:
        record |= {"status": "completed", "dataset": {"name": dataset}, "metrics": metrics, **extra}
    (folder / "metrics.json").write_text(json.dumps({"overrides": overrides} | record))


DMF = ({"name": "dmf", "layers": 2}, "nce")


def metrics_for(base: float) -> dict:
    return {
        "test/hr@10": base,
        "test/ndcg@10": base / 2,
        "test/full_hr@10": base / 4,
        "test/full_ndcg@10": base / 8,
    }


def test_table2_layout_single_runs_and_a_failure(tmp_path):
    scores = {("ItemPop", 0): 0.40, ("ItemPop", 1): 0.40, ("NeuMF-p", 0): 0.60, ("NeuMF-p", 1): 0.62}
    scores |= {("DMF-2-nce", 0): 0.63, ("DMF-2-nce", 1): 0.67}
    models = {
        "ItemPop": ({"name": "itempop"}, "nce"),
        "NeuMF-p": ({"name": "neumf", "pretrain": True}, "ce"),
        "DMF-2-nce": ({"name": "dmf", "layers": 2}, "nce"),
    }
    for i, ((method, seed), score) in enumerate(scores.items()):
        make_run(tmp_path / "runs" / str(i), *models[method], "ml100k", seed, metrics_for(score))
    make_run(tmp_path / "runs" / "9", *models["DMF-2-nce"], "ml100k", 2, None)  # failed
    # A job that died before writing metrics.json still counts, from Hydra's record.
    dead = tmp_path / "runs" / "10" / ".hydra"
    dead.mkdir(parents=True)
    (dead / "overrides.yaml").write_text("- data=ml100k\n- seed=3\n")

    assert main([str(tmp_path / "runs"), "--layout", "table2", "--out", str(tmp_path / "out")]) == 0
    text = (tmp_path / "out" / "table.md").read_text()
    sampled = text.split("## Sampled")[1].split("## Full")[0]
    header = next(line for line in sampled.splitlines() if line.startswith("| dataset"))
    # The paper's orientation and order; the last column is its "Improvement" (DMF-2-nce over NeuMF-p).
    # A job that left no config at all cannot be placed: it gets its own column ("?").
    assert header == "| dataset | measure | ItemPop | NeuMF-p | DMF-2-nce | ? | DMF-2-nce vs NeuMF-p |"
    hr_row = next(line for line in sampled.splitlines() if line.startswith("| ML100k | HR@10"))
    dmf = [0.63, 0.67]
    assert f"**{statistics.mean(dmf):.4f} ± {statistics.stdev(dmf):.4f} (2/3)**" in hr_row
    assert "| 0.4000 ± 0.0000 |" in hr_row
    assert hr_row.endswith(f"| {100 * (0.65 / 0.61 - 1):+.1f}% |")
    failed = text.split("## Failed jobs")[1]
    assert "| 9 | data=ml100k seed=2 | RuntimeError: boom |" in failed
    assert "| 10 | data=ml100k seed=3 | no metrics.json" in failed
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert len(summary) == 8 and (summary["status"] == "failed").sum() == 2


def test_summary_shows_what_the_data_policies_changed(tmp_path):
    policy = dict(duplicates_dropped=3, filtered_out=0, sparse_users_dropped=2, sparse_user_ratings_dropped=4)
    make_run(tmp_path / "runs" / "0", *DMF, "ml100k", 0, metrics_for(0.5))
    record_file = tmp_path / "runs" / "0" / "metrics.json"
    record = json.loads(record_file.read_text())
    record["dataset"]["policy"] = policy
    record_file.write_text(json.dumps(record))
    make_run(tmp_path / "runs" / "1", *DMF, "ml100k", 1, metrics_for(0.5))  # recorded before the counts
    assert main([str(tmp_path / "runs"), "--out", str(tmp_path / "out")]) == 0
    summary = pd.read_csv(tmp_path / "out" / "summary.csv").set_index("seed")
    assert summary.loc[0, list(policy)].tolist() == [3, 0, 2, 4]
    assert summary[[*policy, "negatives_removed"]].loc[1].isna().all()
    assert pd.isna(summary.loc[0, "negatives_removed"])  # an NCF-only count


def test_table1_statistics(tmp_path):
    for i, (name, users, items, ratings) in enumerate(
        [("ml100k", 943, 1682, 100_000), ("ml1m", 6040, 3706, 7)]
    ):
        folder = tmp_path / str(i)
        make_run(folder, {"name": None}, "nce", name, 0, {}, report="table1")
        record = json.loads((folder / "metrics.json").read_text())
        record["dataset"] |= {"users": users, "items": items, "ratings": ratings, "density": 0.0630512}
        (folder / "metrics.json").write_text(json.dumps(record))
    report = aggregate(find_jobs(tmp_path))
    assert report.layout.name == "table1"
    header, rows = report.statistics_table()
    assert header == ["statistic", "ML100k", "ML1m"]
    assert rows[0] == ["users", "943", "6,040"] and rows[2] == ["ratings", "100,000", "7"]
    assert rows[3] == ["density", "0.06305", "0.06305"]


def test_figure2_png_from_histories(tmp_path):
    for seed in (0, 1):
        for layers in (1, 2):
            history = [
                {"epoch": e, "val/hr@10": 0.3 + 0.1 * e * layers, "val/ndcg@10": 0.1 * e} for e in range(3)
            ]
            make_run(
                tmp_path / "sweep" / f"{seed}{layers}", {"name": "dmf", "layers": layers}, "nce", "ml100k",
                seed, metrics_for(0.5 + layers / 10), history=history, report="figure2",
            )  # fmt: skip
    assert main([str(tmp_path / "sweep")]) == 0
    png = (tmp_path / "sweep" / "figure2.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    text = (tmp_path / "sweep" / "table.md").read_text()
    assert "| layers | ML100k HR@10 | ML100k NDCG@10 |" in text and "![" in text


def test_results_document_files_single_runs_under_a_table(tmp_path):
    make_run(tmp_path / "itempop", {"name": "itempop"}, "nce", "ml100k", 0, metrics_for(0.41))
    make_run(tmp_path / "dmf", {"name": "dmf", "layers": 2}, "nce", "ml100k", 0, metrics_for(0.6))
    out = tmp_path / "docs" / "results.md"
    write_results([("table2", tmp_path / "itempop"), ("table2", tmp_path / "dmf")], out)
    text = out.read_text()
    table2 = text.split("## Table 2")[1].split("## Table 3")[0]
    assert "| ML100k | HR@10 | 0.4100 | **0.6000** |" in table2
    assert "0.4145 / 0.2342 (TopPop)" in table2  # the reproduction's number beside ours
    assert "DMF-2-nce beats NeuMF-p" in table2
    assert "_No runs yet: `python train.py experiment=table4`" in text
    assert not re.search(r"\{\{\s*\w+\s*\}\}", text)  # every placeholder filled


def test_results_document_includes_tool_written_files(tmp_path):
    template = tmp_path / "template.md"
    template.write_text("# R\n{{include:bench/ml100k.md}}\n{{include:bench/missing.md}}\n")
    (tmp_path / "docs" / "bench").mkdir(parents=True)
    (tmp_path / "docs" / "bench" / "ml100k.md").write_text("| a | b |\n")
    out = tmp_path / "docs" / "results.md"
    write_results([], out, template)
    text = out.read_text()
    assert "| a | b |" in text
    assert "Not measured yet" in text and "bench/missing.md" in text


def test_best_job_is_chosen_on_validation_never_test(tmp_path):
    from deepmf.report.best import best_job

    def job(name: str, val: float, test: float, status: str = "completed") -> None:
        folder = tmp_path / name
        folder.mkdir()
        record = {
            "status": status,
            "overrides": [f"model.l2={name}"],
            "metrics": {"val/ndcg@10": val, "test/ndcg@10": test},
        }
        (folder / "metrics.json").write_text(json.dumps(record))

    job("0", val=0.30, test=0.90)  # best on test: must not be chosen
    job("1", val=0.50, test=0.20)
    job("2", val=0.99, test=0.99, status="failed")
    assert best_job(tmp_path).overrides == ["model.l2=1"]


def test_speed_layout_files_runs_by_their_speed_option(tmp_path):
    dmf = ({"name": "dmf", "layers": 2}, "nce")
    for i, (option, seed, score) in enumerate([(None, 0, 0.62), (None, 1, 0.64), ("large_batch", 0, 0.58)]):
        folder = tmp_path / "runs" / str(i)
        make_run(folder, *dmf, "ml100k", seed, metrics_for(score))
        if option:  # Hydra records the chosen config group; runs from before conf/speed/ record none
            (folder / ".hydra" / "hydra.yaml").write_text(
                f"hydra:\n  runtime:\n    choices:\n      speed: {option}\n"
            )
    report = aggregate(find_jobs(tmp_path / "runs"), "speed")
    assert report.factors == ["paper", "large_batch"]
    assert report.cell("ml100k", "paper", "test/hr@10").mean == statistics.mean([0.62, 0.64])
    assert report.cell("ml100k", "large_batch", "test/hr@10").n == 1


def test_ad_hoc_sweeps_list_configurations_in_natural_order(tmp_path):
    for i, factors in enumerate([64, 8, 16]):
        make_run(
            tmp_path / "runs" / str(i),
            {"name": "gmf", "factors": factors},
            "ce",
            "ml100k",
            0,
            metrics_for(0.5),
            overrides=[f"model.factors={factors}"],
        )
    report = aggregate(find_jobs(tmp_path / "runs"))
    assert [f.split()[-1] for f in report.factors] == [
        "model.factors=8",
        "model.factors=16",
        "model.factors=64",
    ]


def test_completed_runs_without_the_tables_k_read_n_a_not_failed(tmp_path):
    at_5_and_20 = {f"test/{m}@{k}": 0.5 for m in ("hr", "ndcg", "full_hr", "full_ndcg") for k in (5, 20)}
    for layers, metrics in ((1, at_5_and_20), (2, None)):
        make_run(
            tmp_path / str(layers), {"name": "dmf", "layers": layers}, "nce", "ml100k", 0, metrics,
            overrides=[f"model.layers={layers}"], config={"eval": {"ks": [5, 20]}},
        )  # fmt: skip
    text = aggregate(find_jobs(tmp_path)).markdown()
    sampled = text.split("## Sampled")[1].split("## Full")[0]
    assert "| DMF-1-nce model.layers=1 | n/a | n/a |" in sampled
    assert "| DMF-2-nce model.layers=2 | failed | failed |" in sampled
    assert (
        "1 completed runs did not record test/hr@10, test/ndcg@10, test/full_hr@10, test/full_ndcg@10 "
        "(their eval.ks: [5, 20]): their cells read n/a"
    ) in text


def test_a_run_that_failed_early_is_filed_under_its_datamodules_name(tmp_path):
    def synthetic(name: str, preset: str, metrics: dict | None, **options: object) -> None:
        data = {"_target_": "deepmf.data.synthetic.SyntheticDataModule", "preset": preset, "neg_ratio": 7}
        data |= options
        make_run(tmp_path / name, *DMF, "synthetic", 0, metrics, config={"data": data})
        record = json.loads((tmp_path / name / "metrics.json").read_text())
        if metrics is not None:  # a completed run names its data as the datamodule does
            record["dataset"]["name"] = f"synthetic-{preset}"
        (tmp_path / name / "metrics.json").write_text(json.dumps(record))

    synthetic("0", "small", metrics_for(0.5))
    synthetic("1", "ml1m", metrics_for(0.7))
    synthetic("2", "small", None)  # failed before its datamodule existed: it knows only data=synthetic
    synthetic("3", "amazon_movies", None)  # no completed run read its data: never filed under another's
    synthetic("4", "small", None, input="binary", neg_ratio=4)  # other training options, same data
    report = aggregate(find_jobs(tmp_path))
    assert report.datasets == ["synthetic", "synthetic-ml1m", "synthetic-small"]
    assert [job.dataset for job in report.jobs] == [
        "synthetic-small",
        "synthetic-ml1m",
        "synthetic-small",
        "synthetic",
        "synthetic-small",
    ]


def test_best_job_defaults_to_the_jobs_own_selection_metric(tmp_path, capsys):
    from deepmf.report.best import best_job
    from deepmf.report.best import main as best_main

    for name, at_10, at_20 in (("0", 0.9, 0.1), ("1", 0.1, 0.5)):
        folder = tmp_path / name
        folder.mkdir()
        record = {
            "status": "completed",
            "overrides": [f"optim.lr={name}"],
            "config": {"selection": {"monitor": "val/ndcg@20"}},
            "metrics": {"val/ndcg@10": at_10, "val/ndcg@20": at_20},
        }
        (folder / "metrics.json").write_text(json.dumps(record))
    assert best_job(tmp_path).overrides == ["optim.lr=1"]
    assert best_job(tmp_path, "val/ndcg@10").overrides == ["optim.lr=0"]
    best_main([str(tmp_path)])
    assert capsys.readouterr().out.startswith("val/ndcg@20=0.5000 ")
