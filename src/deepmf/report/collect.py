"""Find the runs under a sweep (or single-run) folder, name the data of runs that failed before naming it,
and gather the folders given to the report (``DIR`` or ``NAME=DIR``) into sources."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from deepmf.errors import DeepMFError
from deepmf.report.job import Job, load_job
from deepmf.report.sweeps import latest_sweep, natural_key


def is_run_folder(folder: Path) -> bool:
    """Whether ``folder`` is one run's (it holds ``metrics.json`` or Hydra's ``.hydra/overrides.yaml``)."""
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
    jobs = [load_job(path) for path in sorted(outermost, key=natural_key)]
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
