"""Find the runs under a sweep (or single-run) folder and read what each one recorded."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from deepmf.errors import DeepMFError

log = logging.getLogger(__name__)

#: Display names of the models in the paper's terms.
MODEL_NAMES = {
    "itempop": "ItemPop",
    "itemknn": "ItemKNN",
    "eals": "eALS",
    "ease": "EASE",
    "neumf": "NeuMF",
    "gmf": "GMF",
    "mlp": "MLP",
}


@dataclass
class Job:
    """One run: its folder, its ``metrics.json`` (a stub if it left none) and Hydra's record of it."""

    path: Path
    record: dict[str, Any]
    hydra_config: dict[str, Any] = field(default_factory=dict)
    hydra_overrides: list[str] = field(default_factory=list)
    choices: dict[str, Any] = field(default_factory=dict)
    #: Hydra's job number in its sweep (``hydra.job.num``); None for a run outside a Hydra sweep.
    num: int | None = None
    #: The datamodule's name taken from a completed run on the same data (see ``name_datasets``).
    inferred_dataset: str | None = None
    #: For a component a job trained first (``<job>/pretrain/<name>``), that job's method (``NeuMF-p``).
    part_of: str | None = None

    @property
    def status(self) -> str:
        return str(self.record.get("status", "failed"))

    @property
    def completed(self) -> bool:
        return self.status == "completed"

    @property
    def config(self) -> dict[str, Any]:
        """The resolved config from metrics.json; Hydra's saved config if the job wrote none."""
        return self.record.get("config") or self.hydra_config

    @property
    def overrides(self) -> list[str]:
        return list(self.record.get("overrides") or self.hydra_overrides)

    @property
    def metrics(self) -> dict[str, float]:
        return dict(self.record.get("metrics") or {})

    @property
    def dataset(self) -> str:
        """The datamodule's name (``synthetic-small``); for a run that failed before naming it, the name a
        completed run on the same data recorded, else the data config's name (``synthetic``)."""
        name = self.recorded_dataset or self.inferred_dataset or self.data_config_name
        return str(name or "?")

    @property
    def recorded_dataset(self) -> str | None:
        return (self.record.get("dataset") or {}).get("name")

    @property
    def data_config_name(self) -> str | None:
        """The ``data=`` choice (``conf/data/<name>.yaml``), from Hydra's record or the overrides."""
        name = self.choices.get("data")
        if not name:  # a run that failed early, without Hydra's record of its choices
            name = next((o.partition("=")[2] for o in self.overrides if o.startswith("data=")), None)
        return name

    @property
    def seed(self) -> Any:
        return self.record.get("seed", self.config.get("seed"))

    @property
    def layout(self) -> str | None:
        """The report layout the run was made for (``report=`` in its config), if any."""
        return self.config.get("report") or None

    @cached_property
    def method(self) -> str:
        label = method_label(self.config)
        return f"{label} ({self.part_of} part)" if self.part_of else label

    def value(self, key: str) -> Any:
        """A dotted config key (``data.neg_ratio``), or ``method`` / ``dataset`` / ``speed``."""
        if key == "method":
            return self.method
        if key == "dataset":
            return self.dataset
        if key == "speed":  # the conf/speed/ option; runs from before the options existed used the paper's
            return self.choices.get("speed", "paper")
        node: Any = self.config
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node


def method_label(config: dict[str, Any]) -> str:
    """The paper's name for a configured model: ``DMF-2-nce``, ``LFM-nce``, ``NeuMF-p``, ``ItemPop``."""
    model = config.get("model") or {}
    name = str(model.get("name", "?"))
    loss = (config.get("loss") or {}).get("name", "?")
    if name == "dmf":
        label = f"DMF-{model.get('layers', '?')}-{loss}"
        if (config.get("data") or {}).get("input") == "binary":
            label += " (binary Y)"
        return label
    if name == "lfm":
        return f"LFM-{loss}"
    if name == "neumf" and model.get("pretrain"):
        return "NeuMF-p"
    return MODEL_NAMES.get(name, name)


def is_run_folder(folder: Path) -> bool:
    return (folder / "metrics.json").is_file() or (folder / ".hydra" / "overrides.yaml").is_file()


def find_jobs(folder: Path) -> list[Job]:
    """The jobs of a sweep folder in job order, or ``[the run]`` if ``folder`` is a single run.

    A job folder is one with ``metrics.json`` or Hydra's ``.hydra/``: a job that died before writing
    ``metrics.json`` still appears, as failed. Run folders inside a job (the components it pretrained,
    ``<job>/pretrain/<name>``) are part of that job, never jobs of their own. A sweep folder contributes
    the jobs of its latest sweep only (see ``latest_sweep``).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    if is_run_folder(folder):
        return [load_job(folder)]
    found = {p.parent for p in folder.glob("**/metrics.json")}
    found |= {p.parent.parent for p in folder.glob("**/.hydra/overrides.yaml")}
    # W&B and checkpoint folders never hold these files, so every hit is a run folder.
    outermost = [path for path in found if not any(parent in found for parent in path.parents)]
    jobs = [load_job(path) for path in sorted(outermost, key=_natural_key)]
    return latest_sweep(jobs, folder)


def with_components(jobs: list[Job]) -> list[Job]:
    """``jobs``, each followed by the components it trained first (``<job>/pretrain/<name>``), labelled as
    parts of it (``GMF (NeuMF-p part)``): tables show them beside their job; selection never sees them."""
    expanded: list[Job] = []
    for job in jobs:
        expanded.append(job)
        for folder in sorted(path.parent for path in job.path.glob("pretrain/*/metrics.json")):
            component = load_job(folder)
            component.part_of = job.method
            # Its job's overrides, not ["component=gmf"]: a grid's rows then keep each job's parts apart.
            component.record = component.record | {"overrides": job.overrides}
            expanded.append(component)
    return expanded


def latest_sweep(jobs: list[Job], root: Path) -> list[Job]:
    """Leave out the job folders that an earlier sweep into the same sweep folder left behind.

    Hydra rewrites ``<sweep>/multirun.yaml`` when a sweep starts and numbers its jobs from 0: the new jobs
    overwrite the old folders with their numbers and leave the others. Expanding the grid of
    ``multirun.yaml`` as Hydra's basic sweeper does gives the overrides of each job of the latest sweep,
    so a job folder whose number or overrides differ is an earlier sweep's. The rule needs only the files
    a sweep leaves, so the end-of-sweep callback, re-aggregation and ``report.best`` share it. Jobs outside
    a folder with ``multirun.yaml``, or of another sweeper, are all kept.
    """
    by_sweep: dict[Path, list[Job]] = {}
    for job in jobs:
        sweep = _sweep_folder(job.path, root)
        if sweep is not None:
            by_sweep.setdefault(sweep, []).append(job)
    stale = {job.path for sweep, group in by_sweep.items() for job in _earlier_sweeps_jobs(sweep, group)}
    return [job for job in jobs if job.path not in stale]


def _earlier_sweeps_jobs(sweep: Path, jobs: list[Job]) -> list[Job]:
    """The jobs under ``sweep`` that its latest sweep's grid does not list (with a warning)."""
    grid = sweep_grid(sweep / "multirun.yaml")
    if grid is None:
        return []
    stale = [job for job in jobs if not _in_grid(job, grid)]
    if stale:
        log.warning(
            "%s: left out %d job folder(s) from an earlier sweep into this folder (%s); its multirun.yaml "
            "(the latest sweep) lists %d job(s)",
            sweep,
            len(stale),
            ", ".join(job.path.name for job in stale),
            len(grid),
        )
    return stale


BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


def sweep_grid(multirun_yaml: Path) -> list[list[str]] | None:
    """Each job's overrides in job order, as Hydra's basic sweeper expands ``multirun.yaml``'s sweep;
    None when that cannot be told (no such file, another sweeper, an override it cannot expand)."""
    hydra = (_read_yaml(multirun_yaml) or {}).get("hydra") or {}
    sweeper = hydra.get("sweeper") or {}
    if sweeper.get("_target_") != BASIC_SWEEPER:
        return None
    arguments = [f"{key}={value}" for key, value in (sweeper.get("params") or {}).items()]
    arguments += [str(o) for o in (hydra.get("overrides") or {}).get("task") or []]
    try:
        # Hydra's own expansion (a private module: if it moves, every job folder is read, as before).
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

        overrides = OverridesParser.create().parse_overrides(arguments)
        batches = BasicSweeper.split_arguments(overrides, None)
    except Exception as exc:  # e.g. glob(), which needs Hydra's config loader: keep every job
        log.warning("%s: could not expand the sweep (%s); reading every job folder", multirun_yaml, exc)
        return None
    return [job for batch in batches for job in batch]


def _sweep_folder(job_folder: Path, root: Path) -> Path | None:
    """The nearest folder above the job, up to ``root``, holding a ``multirun.yaml``."""
    for parent in job_folder.parents:
        if (parent / "multirun.yaml").is_file():
            return parent
        if parent == root:
            break
    return None


def _in_grid(job: Job, grid: list[list[str]]) -> bool:
    if job.num is None:  # not a job of a Hydra sweep
        return True
    return job.num < len(grid) and job.hydra_overrides == grid[job.num]


def _natural_key(path: Path) -> tuple[Any, ...]:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in path.parts)


def load_job(folder: Path) -> Job:
    """Read a run folder; a missing or unreadable ``metrics.json`` makes a failed stub, not an error."""
    metrics_file = folder / "metrics.json"
    try:
        record = json.loads(metrics_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        record = {"status": "failed", "error": "no metrics.json: the job stopped before writing it"}
    except (OSError, ValueError) as exc:
        record = {"status": "failed", "error": f"unreadable metrics.json: {exc}"}
    hydra_dir = folder / ".hydra"
    hydra_config = _read_yaml(hydra_dir / "config.yaml") or {}
    overrides = [str(o) for o in _read_yaml(hydra_dir / "overrides.yaml") or []]
    if _from_an_earlier_run(record, overrides):
        record = {"status": "failed", "error": STALE_RECORD}
    hydra = (_read_yaml(hydra_dir / "hydra.yaml") or {}).get("hydra") or {}
    choices = (hydra.get("runtime") or {}).get("choices") or {}
    num = (hydra.get("job") or {}).get("num")
    return Job(folder, record, hydra_config, overrides, dict(choices), num if isinstance(num, int) else None)


STALE_RECORD = (
    "metrics.json is an earlier run's (its overrides differ from .hydra/overrides.yaml): "
    "this job stopped before writing its own"
)


def _from_an_earlier_run(record: dict[str, Any], hydra_overrides: list[str]) -> bool:
    """A job rerun into a used folder rewrites ``.hydra/`` at once, ``metrics.json`` only at its end."""
    recorded = record.get("overrides")
    return bool(hydra_overrides) and recorded is not None and [str(o) for o in recorded] != hydra_overrides


#: Data options that change how a run splits, samples or feeds its data, never which data it reads.
TRAINING_DATA_OPTIONS = frozenset(
    {
        "data_dir",
        "cache_dir",
        "seed",
        "batch_size",
        "neg_ratio",
        "negative_sampling",
        "input",
        "validation",
        "eval_negatives",
        "split_seed",
    }
)


def name_datasets(jobs: list[Job]) -> None:
    """Name the data of each run that failed before its datamodule did, as a run on the same data did.

    A run names its dataset after the datamodule (``synthetic-small``, ``amazon-Movies_and_TV``); one that
    failed earlier knows only the data config (``synthetic``). It takes the name recorded by a run on the
    same data config whose data options are the same but for :data:`TRAINING_DATA_OPTIONS`, so its jobs
    land in the same table column. Without such a run it keeps the config's name.
    """
    named = [job for job in jobs if job.recorded_dataset]
    for job in jobs:
        if job.recorded_dataset:
            continue
        same = next((other for other in named if _reads_the_same_data(job, other)), None)
        if same is not None:
            job.inferred_dataset = same.recorded_dataset


def _reads_the_same_data(a: Job, b: Job) -> bool:
    pairs = ((a.data_config_name, b.data_config_name), (a.value("data._target_"), b.value("data._target_")))
    known = [(x, y) for x, y in pairs if x is not None and y is not None]
    if not known or any(x != y for x, y in known):
        return False
    mine, theirs = a.value("data") or {}, b.value("data") or {}
    keys = (mine.keys() | theirs.keys()) - TRAINING_DATA_OPTIONS
    return bool(mine) and all(mine.get(key) == theirs.get(key) for key in keys)


class NoRunsError(DeepMFError):
    """A folder given to the report holds no runs (or none for the table it was named for)."""


@dataclass
class Source:
    """A folder given to the report (``DIR`` or ``NAME=DIR``): the runs it contributes and those left out."""

    name: str | None
    folder: Path
    jobs: list[Job]
    left_out: list[Job] = field(default_factory=list)

    def note(self) -> str | None:
        """What was left out, for the report's notes."""
        if not self.left_out:
            return None
        kinds = sorted({f"{job.method} (report={job.layout or 'null'})" for job in self.left_out})
        return (
            f"left out {len(self.left_out)} of {len(self.jobs) + len(self.left_out)} runs of "
            f"`{self.folder}` that were not made for {self.name}: {', '.join(kinds)}"
        )

    def describe(self) -> str:
        """The folder, and for ``NAME=DIR`` the table its runs are for."""
        if self.name is None:
            return str(self.folder)
        return f"{self.folder} for {self.name} ({len(self.left_out)} runs of other tables left out)"


def load_source(name: str | None, folder: Path) -> Source:
    """The runs of ``folder``; for ``NAME=DIR`` of many runs only those of layout NAME (see
    ``runs_for_layout``). A single run named ``NAME=RUN`` is filed under NAME whatever it was made for
    (e.g. a Table 4 job at the paper's negative ratio as Table 2's DMF-2-nce)."""
    jobs = find_jobs(folder)
    if name is None or is_run_folder(folder):
        return Source(name, folder, jobs)
    return Source(name, folder, *runs_for_layout(jobs, name))


def runs_for_layout(jobs: list[Job], name: str) -> tuple[list[Job], list[Job]]:
    """The runs made for layout ``name`` (``report=name``, as experiment configs and W&B sweeps set it)
    and the others. If no run names it, the runs made for no layout are taken (single runs filed under a
    table by hand, e.g. Table 2's baselines) and those made for another layout left out."""
    wanted = name if any(job.layout == name for job in jobs) else None
    return [job for job in jobs if job.layout == wanted], [job for job in jobs if job.layout != wanted]


def check_runs_found(sources: list[Source]) -> None:
    """Raise ``NoRunsError`` naming each folder that contributes no run."""
    empty = [source.describe() for source in sources if not source.jobs]
    if empty:
        raise NoRunsError(
            f"no runs found in {', '.join(empty)}: a run folder holds metrics.json or .hydra/overrides.yaml"
        )


def _read_yaml(path: Path) -> Any:
    """A YAML file as plain containers, interpolations left unresolved: enough for names and choices."""
    if not path.is_file():
        return None
    try:
        return OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    except Exception as exc:  # a damaged file must not stop the report
        log.warning("could not read %s: %s", path, exc)
        return None
