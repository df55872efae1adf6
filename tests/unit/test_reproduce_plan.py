"""The plan of ``python -m deepmf.reproduce``: jobs per sweep as Hydra expands them, time estimates from
measured seconds per epoch, and the command's own options (nothing is trained here)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from deepmf.errors import ConfigError, DeepMFError
from deepmf.reproduce.__main__ import main, parse
from deepmf.reproduce.manifest import CONF, load_manifest, load_profile, select
from deepmf.reproduce.plan import Measurements, build_plan, expand, job_seconds


def plan_for(*extra: str, seeds: str = "0,1,2", profile: str = "paper", only: list[str] | None = None):
    return build_plan(select(load_manifest(), only), load_profile(profile), ["ml100k"], seeds, list(extra))


def test_every_sweep_has_the_jobs_of_its_grid():
    plan = plan_for()
    jobs = {sweep.entry.placeholder: sweep.jobs for sweep in plan.sweeps}
    # DMF's tuning first: its search's 20 trials (the baselines' tuning runs on Amusic only). Table 1 has
    # no seeds; the others: their factor's values (9 methods, 2 methods, 10 ratios, 5 factor counts,
    # 4 depths, the single default run) times 3 seeds, on the one dataset asked for.
    assert jobs == {
        "tuning/dmf": 20,
        "table1": 1,
        "table2": 27,
        "table3": 6,
        "table4": 30,
        "table5": 15,
        "figure2": 12,
        "runs": 3,
    }
    assert plan.jobs == 114 and plan.parallel == 1
    assert list(jobs)[0] == "tuning/dmf"  # the tables that read tuned values come after
    assert all(
        sweep.folder == Path("outputs/reproduce/ml100k") / sweep.entry.placeholder for sweep in plan.sweeps
    )


def test_a_users_sweep_override_and_a_launcher_reach_the_plan():
    plan = plan_for("model.layers=1,2", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", only=["table4"])
    (sweep,) = plan.sweeps
    assert sweep.jobs == 10 * 3 * 2
    assert plan.parallel == 2 and "2 at once" in plan.describe()
    assert sweep.wall_seconds == sweep.seconds / 2
    assert sweep.overrides[-3:] == ["model.layers=1,2", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]


def test_a_sweeper_that_is_not_a_grid_counts_its_trials():
    plan = plan_for("hydra/sweeper=optuna", "hydra.sweeper.n_trials=4", only=["runs"])
    assert [sweep.jobs for sweep in plan.sweeps] == [4]


def test_profile_overrides_go_to_every_sweep_and_stats_take_no_epochs():
    plan = plan_for(profile="tiny", seeds="0")
    for sweep in plan.sweeps:
        assert "trainer.max_epochs=1" in sweep.overrides
    table1 = next(s for s in plan.sweeps if s.entry.placeholder == "table1")
    assert "seed=0" not in table1.overrides
    estimate = load_profile("tiny").estimate
    assert table1.seconds == estimate["sweep_overhead_s"] + estimate["job_overhead_s"]  # no training


def write_record(folder: Path, model: str, overrides: list[str], seconds: float, config=None) -> None:
    folder.mkdir(parents=True)
    record = {"status": "completed", "model": model, "overrides": overrides, "seconds_per_epoch": seconds}
    record["config"] = config or {}  # {}: no setting to compare
    (folder / "metrics.json").write_text(json.dumps(record))


def test_estimates_prefer_the_same_job_then_the_same_model_then_the_default(tmp_path):
    root = tmp_path / "ml100k"
    write_record(root / "table5" / "0", "dmf", ["model.factors=8", "seed=0"], 2.0)
    write_record(root / "table5" / "1", "dmf", ["model.factors=16", "seed=0"], 4.0)
    write_record(root / "table5" / "2", "dmf", ["model.factors=32", "seed=0"], 9.0)
    measured = Measurements.under(root)
    estimate = {"job_overhead_s": 1, "seconds_per_epoch": {"default": 100, "lfm": 50}}
    by_factors = {}
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        for factors in (8, 64):
            overrides = [f"model.factors={factors}", "seed=1"]
            cfg = compose("train", overrides=overrides)
            by_factors[factors] = job_seconds(cfg, overrides, measured, estimate)
        lfm = compose("train", overrides=["model=lfm"])
        lfm_seconds = job_seconds(lfm, ["model=lfm"], measured, estimate)
    epochs = 10  # conf/trainer/cpu.yaml
    assert by_factors[8] == (1 + epochs * 2.0, True)  # the same job at another seed
    assert by_factors[64] == (1 + epochs * 4.0, True)  # the median of the model's runs
    assert lfm_seconds == (1 + epochs * 50, False)  # nothing measured: the profile's default


def test_own_options_and_refused_overrides():
    options = parse(["data=ml100k,amusic", "seeds=0", "only=table3", "out=x.md", "--dry-run", "logger=csv"])
    assert options.data == ["ml100k", "amusic"] and options.seeds == "0" and options.only == ["table3"]
    assert options.out == Path("x.md") and options.plan_only and options.overrides == ["logger=csv"]
    for reserved in ("seed=1", "hydra.sweep.dir=x", "experiment=table2", "-m"):
        with pytest.raises(DeepMFError, match="set by python -m deepmf.reproduce"):
            parse([reserved])


def test_bad_names_fail_before_anything_runs():
    with pytest.raises(ConfigError, match="table9 not in the manifest"):
        select(load_manifest(), ["table9"])
    with pytest.raises(ConfigError, match="profile=nope.*profiles: paper, tiny"):
        load_profile("nope")
    with pytest.raises(ConfigError, match="table3 on ml100k: .*model.layr"):
        plan_for("model.layr=1", only=["table3"])


def test_dry_run_prints_the_plan_and_runs_nothing(tmp_path, capsys):
    assert main(["data=ml100k", "seeds=0", "only=table3", f"root={tmp_path}/sweeps", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "| table3 (ml100k) | 2 |" in out and "2 jobs in 1 sweep (0 completed earlier, kept)" in out
    assert not (tmp_path / "sweeps").exists()
    assert main(["data=ml100k", "only=table9", "--dry-run"]) == 2


def test_the_tuning_stage_runs_each_search_on_its_datasets_first():
    entries = select(load_manifest(), ["tuning"])
    assert {e.placeholder: e.datasets for e in entries} == {
        "tuning/dmf": ("ml100k", "amusic"),
        "tuning/itemknn": ("amusic",),
        "tuning/eals": ("amusic",),
        "tuning/ease": ("amusic",),
        "tuning/neumf_p": ("amusic",),
    }
    plan = build_plan(entries, load_profile("paper"), ["ml100k", "amusic"], "0,1,2", [])
    names = [sweep.name for sweep in plan.sweeps]
    assert names == [
        "tuning/dmf (ml100k)",
        *(f"tuning/{m} (amusic)" for m in ("dmf", "itemknn", "eals", "ease", "neumf_p")),
    ]
    for sweep in plan.sweeps:
        # The shared budget's trials for every method, no seeds swept, values written into conf/.
        assert sweep.jobs == 20 and not any(o.startswith("seed=") for o in sweep.overrides)
        assert sweep.folder == Path("outputs/reproduce") / sweep.dataset / "tuning" / str(sweep.entry.tune)
    neumf = plan.sweeps[-1]
    assert "+hparams/search=neumf" in neumf.overrides
    assert load_profile("paper").tuned_file("amusic", "neumf_p") == CONF / "hparams/tuned/amusic/neumf_p.yaml"


def test_the_smoke_test_profile_tunes_briefly_and_keeps_its_values_apart(tmp_path):
    profile = replace(load_profile("tiny"), root=tmp_path)
    plan = build_plan(select(load_manifest(), ["tuning/dmf", "table2"]), profile, ["ml100k"], "0", [])
    tuning, table2 = plan.sweeps
    assert tuning.jobs == 2 and "hydra.sweeper.n_trials=2" in tuning.overrides
    assert "hydra.sweeper.n_trials=2" not in table2.overrides  # a grid has no trials
    search_path = f"hydra.searchpath=[file://{tmp_path.resolve()}/tuned]"
    assert search_path in tuning.overrides and search_path in table2.overrides
    assert profile.tuned_file("ml100k", "dmf") == tmp_path / "tuned" / "hparams/tuned/ml100k/dmf.yaml"


def test_a_bad_tuning_entry_names_the_manifest_and_the_key(tmp_path):
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text("tuning:\n  dmf: {data: [ml100k]}\nsweeps:\n  table2: {}\n")
    with pytest.raises(ConfigError, match=r"manifest.yaml: tuning.dmf needs `search`"):
        load_manifest(manifest)
    manifest.write_text("tuning:\n  dmf: {search: nope}\nsweeps:\n  table2: {}\n")
    with pytest.raises(ConfigError, match=r"tuning.dmf.search=nope: no conf/hparams/search/ file"):
        load_manifest(manifest)


def test_a_search_counts_its_completed_trials_whatever_points_they_took(tmp_path):
    profile = replace(load_profile("paper"), root=tmp_path)
    entries = select(load_manifest(), ["tuning"])
    (dmf,) = build_plan(entries, profile, ["ml100k"], "0", []).sweeps
    base = list(dmf.overrides)
    points = [["optim.lr=0.001", "model.layers=1"], ["optim.lr=0.01", "model.layers=3"]]
    for trial, point in enumerate(points):  # as the sweeper runs them: its point first, threads apart
        write_record(dmf.folder / str(trial), "dmf", [*point, *base, "threads=1"], 1.0)
    write_record(dmf.folder / "2", "dmf", ["optim.lr=0.1", *base, "model.init_std=0.1"], 1.0)  # another job
    (dmf,) = build_plan(entries, profile, ["ml100k"], "0", []).sweeps
    assert (dmf.jobs, dmf.done) == (20, 2)


def test_a_job_counts_as_done_only_with_the_settings_it_would_run_with_now(tmp_path):
    # A Table 3 job at seed 1, completed earlier: once with this job's learning rate, once with another
    # one (say, a tuned file or a default changed since): a rerun keeps the first, not the second.
    profile = replace(load_profile("paper"), root=tmp_path)

    def done_with(lr_factor: float) -> int:
        (sweep,) = build_plan(select(load_manifest(), ["table3"]), profile, ["ml100k"], "0,1", []).sweeps
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            jobs, _, _ = expand(sweep.overrides)
        job, cfg = next((job, cfg) for job, cfg in jobs if "seed=1" in job)
        config = {"optim": {"lr": cfg.optim.lr * lr_factor}, "model": {"name": cfg.model.name}, "seed": 1}
        shutil.rmtree(sweep.folder, ignore_errors=True)
        write_record(sweep.folder / "0", cfg.model.name, job, 1.0, config=config)
        return build_plan(select(load_manifest(), ["table3"]), profile, ["ml100k"], "0,1", []).sweeps[0].done

    assert done_with(1.0) == 1
    assert done_with(10.0) == 0
