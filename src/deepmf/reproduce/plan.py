"""The plan: each sweep's train.py overrides, its jobs (composed with Hydra and expanded as its sweeper
will) and an estimate of its time from seconds per epoch measured by earlier runs, else the profile's."""

from __future__ import annotations

import datetime as dt
import json
import statistics
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from deepmf.errors import ConfigError
from deepmf.overrides import override_key, same_job
from deepmf.report.sweeps import hydra_sweep_grid
from deepmf.reproduce.manifest import CONF, Entry, Profile
from deepmf.training.launcher import parallel_jobs
from deepmf.training.rerun import changed_settings, read_record

#: Models fitted in one step whatever ``trainer.max_epochs`` says (``FittedRecommender.fit_epochs == 1``).
ONE_STEP = frozenset({"itempop", "itemknn", "ease"})


@dataclass
class Sweep:
    """One multirun of the plan: where it writes, what it runs, how many jobs and about how long."""

    entry: Entry
    dataset: str
    folder: Path
    overrides: list[str]
    jobs: int
    seconds: float  # serial estimate, every job one after the other
    measured: int  # jobs whose seconds per epoch an earlier run measured
    parallel: int = 1  # jobs its launcher runs at once
    done: int = 0  # jobs an earlier attempt completed in ``folder``: a rerun keeps them (training.rerun)

    @property
    def wall_seconds(self) -> float:
        """The estimate when the launcher runs ``parallel`` jobs at a time (stragglers aside)."""
        return self.seconds / self.parallel

    @property
    def name(self) -> str:
        return f"{self.entry.placeholder} ({self.dataset})"


@dataclass
class Plan:
    sweeps: list[Sweep]
    parallel: int  # jobs the launcher runs at once

    @property
    def jobs(self) -> int:
        return sum(sweep.jobs for sweep in self.sweeps)

    def describe(self) -> str:
        """The plan as a table: sweeps, jobs and estimated times, then the totals."""
        lines = ["| sweep | jobs | estimated | folder | done |", "|---|---:|---:|---|---:|"]
        for s in self.sweeps:
            lines.append(f"| {s.name} | {s.jobs} | {duration(s.seconds)} | {s.folder} | {s.done} |")
        serial = sum(s.seconds for s in self.sweeps)
        measured = sum(s.measured for s in self.sweeps)
        sweeps = f"{len(self.sweeps)} sweep{'s' * (len(self.sweeps) != 1)}"
        done = sum(s.done for s in self.sweeps)
        total = f"{self.jobs} jobs in {sweeps} ({done} completed earlier, kept), about {duration(serial)}"
        total += " one job at a time for the others"
        if self.parallel > 1:
            total += f", {duration(serial / self.parallel)} with the launcher's {self.parallel} at once"
        lines += [
            "",
            total + ".",
            f"Seconds per epoch measured by earlier runs for {measured} of {self.jobs} jobs, the profile's "
            "defaults (conf/reproduce/profile/) for the others.",
        ]
        return "\n".join(lines)


def sweep_overrides(entry: Entry, profile: Profile, dataset: str, seeds: str, extra: list[str]) -> list[str]:
    """The overrides of ``python train.py -m`` for one entry on one dataset, ``hydra.sweep.dir`` aside."""
    seed = [f"seed={seeds}"] if entry.seeds else []
    tuning = list(profile.tuning_overrides) if entry.tune else []
    return [
        *entry.overrides,
        f"data={dataset}",
        *seed,
        *profile.overrides,
        *tuning,
        *profile.search_path,
        *extra,
    ]


def build_plan(
    entries: list[Entry], profile: Profile, datasets: list[str], seeds: str, extra: list[str]
) -> Plan:
    """Compose every sweep and job before anything runs: a bad override fails here, naming the sweep."""
    sweeps, parallel = [], 1
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"), warnings.catch_warnings():
        # The profile's tuned-values folder (hydra.searchpath) may not exist before its tuning has run.
        warnings.filterwarnings("ignore", message=r"provider=hydra\.searchpath .* is not available")
        for dataset in datasets:
            measured = Measurements.under(profile.root / dataset)
            for entry in entries:
                if not entry.runs_on(dataset):  # e.g. the baselines' tuning: Amusic only
                    continue
                overrides = sweep_overrides(entry, profile, dataset, seeds, extra)
                try:
                    jobs, parallel, searched = expand(overrides)
                except Exception as exc:  # Hydra's own errors name the override
                    raise ConfigError(f"{entry.placeholder} on {dataset}: {exc}") from exc
                folder = profile.root / dataset / entry.placeholder
                completed = completed_jobs(folder)
                if searched is None:  # as the rerun decides (deepmf.training.rerun)
                    done = [any(kept(record, job) for record in completed) for job, _ in jobs]
                else:  # a search: which points its trials take is the sweeper's choice, so count them
                    trials = sum(same_job(without(r["overrides"], searched), jobs[0][0]) for r in completed)
                    done = [trial < trials for trial in range(len(jobs))]
                seconds = [
                    (0.0, True) if is_done else job_seconds(cfg, job, measured, profile.estimate)
                    for (job, cfg), is_done in zip(jobs, done)
                ]
                sweeps.append(
                    Sweep(
                        entry,
                        dataset,
                        folder,
                        overrides,
                        len(jobs),
                        float(profile.estimate.get("sweep_overhead_s", 0)) + sum(s for s, _ in seconds),
                        sum(m for _, m in seconds),
                        parallel,
                        sum(done),
                    )
                )
    return Plan(sweeps, parallel)


def expand(overrides: list[str]) -> tuple[list[tuple[list[str], DictConfig]], int, list[str] | None]:
    """Each job's overrides and config, as the sweep's sweeper expands them, the launcher's parallelism
    and, for a sweeper that is not a grid (e.g. optuna: ``n_trials`` jobs of the base config), the keys it
    searches (None for a grid)."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    hydra_overrides = [o.input_line for o in parsed if o.is_hydra_override()]
    base = compose("train", overrides=fixed, return_hydra_config=True)
    parallel = parallel_jobs(base.hydra.launcher)
    task = [o.input_line for o in parsed if not o.is_hydra_override()]
    sweeper = OmegaConf.to_container(base.hydra.sweeper, resolve=False)
    grid = hydra_sweep_grid({"sweeper": sweeper, "overrides": {"task": task}}, "the plan")
    if grid is None:
        trials = int(base.hydra.sweeper.get("n_trials") or 1)
        return [(task, base)] * trials, parallel, list(base.hydra.sweeper.get("params") or {})
    cache: dict[tuple[str, ...], DictConfig] = {}
    jobs = []
    for job in grid:
        key = tuple(sorted(o for o in job if not o.startswith("seed=")))
        if key not in cache:
            cache[key] = compose("train", overrides=[*job, *hydra_overrides])
        jobs.append((job, cache[key]))
    return jobs, parallel, None


def without(overrides: list[str], keys: list[str]) -> list[str]:
    """``overrides`` but those that set one of ``keys`` (a search trial's point)."""
    return [o for o in overrides if override_key(o) not in keys]


class Measurements:
    """Median seconds per epoch of the completed runs found under a folder, by job and by model."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        by_job, by_model = defaultdict(list), defaultdict(list)
        for record in records:
            seconds = record.get("seconds_per_epoch")
            if record.get("status") != "completed" or not seconds:
                continue
            by_job[job_key(record.get("overrides") or [])].append(float(seconds))
            by_model[record.get("model")].append(float(seconds))
        self.by_job = {key: statistics.median(v) for key, v in by_job.items()}
        self.by_model = {key: statistics.median(v) for key, v in by_model.items()}

    @classmethod
    def under(cls, folder: Path) -> Measurements:
        records = []
        for path in folder.glob("**/metrics.json") if folder.is_dir() else ():
            try:
                records.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue  # a half-written or foreign file measures nothing
        return cls(records)


def completed_jobs(folder: Path) -> list[dict[str, Any]]:
    """The records (``metrics.json``) of the jobs that completed in a sweep folder."""
    found = []
    for path in sorted(folder.glob("*/metrics.json")) if folder.is_dir() else ():
        record = read_record(path.parent)
        if record and record.get("status") == "completed":
            found.append(record | {"overrides": list(record.get("overrides") or [])})
    return found


def kept(record: dict[str, Any], overrides: list[str]) -> bool:
    """Whether a rerun keeps ``record`` for the job: the same overrides and the same resolved settings
    (composed for this job alone: :func:`expand` shares one config among a job's seeds)."""
    return same_job(record["overrides"], overrides) and not changed_settings(
        record, compose("train", overrides=overrides)
    )


def job_key(overrides: list[str]) -> tuple[str, ...]:
    """A job's overrides but its seed: jobs that differ only by seed take the same time per epoch."""
    return tuple(sorted(o for o in overrides if not o.startswith("seed=")))


def job_seconds(
    cfg: DictConfig, overrides: list[str], measured: Measurements, estimate: dict[str, Any]
) -> tuple[float, bool]:
    """Estimated seconds of one job and whether its seconds per epoch were measured.

    Seconds per epoch come from an earlier run of the same job (another seed), else of the same model on
    the same data, else the profile's default for the model. NeuMF with pretraining trains GMF and MLP
    first, each for as many epochs.
    """
    defaults = estimate["seconds_per_epoch"]
    models = ["gmf", "mlp", cfg.model.name] if cfg.model.get("pretrain") else [cfg.model.name]
    per_epoch, found = 0.0, True
    for model in models:
        exact = measured.by_job.get(job_key(overrides)) if model == cfg.model.name else None
        seconds = exact or measured.by_model.get(model)
        found = found and seconds is not None
        per_epoch += seconds if seconds is not None else float(defaults.get(model, defaults["default"]))
    return float(estimate.get("job_overhead_s", 0)) + epochs(cfg) * per_epoch, found


def epochs(cfg: DictConfig) -> int:
    """Epochs a job trains at most: none for statistics, eALS its iterations, one-step models 1, the
    others max_epochs."""
    if cfg.get("task", "train") != "train":
        return 0
    if "iterations" in cfg.model:
        return int(cfg.model.iterations)
    return 1 if cfg.model.name in ONE_STEP else int(cfg.trainer.max_epochs)


def duration(seconds: float) -> str:
    return str(dt.timedelta(seconds=round(seconds)))
