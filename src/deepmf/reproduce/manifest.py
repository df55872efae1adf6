"""The committed manifest (which sweep feeds which placeholder of the results template) and the profiles
(the settings every sweep runs with): ``conf/reproduce/manifest.yaml`` and ``conf/reproduce/profile/``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from deepmf.errors import ConfigError
from deepmf.report.layouts import LAYOUTS

CONF = Path(__file__).resolve().parents[3] / "conf"
MANIFEST = CONF / "reproduce" / "manifest.yaml"
PROFILES = CONF / "reproduce" / "profile"
#: The template's section of runs made for no table (``python train.py`` single runs).
RUNS = "runs"
#: The manifest's tuning sweeps are named ``tuning/<method>``; ``only=tuning`` selects them all.
TUNING = "tuning"


@dataclass(frozen=True)
class Entry:
    """One sweep of the manifest: the placeholder it fills, its train.py overrides, whether it has seeds."""

    placeholder: str
    overrides: tuple[str, ...]
    seeds: bool = True
    #: For a tuning sweep: the method whose values it chooses (``conf/hparams/tuned/<data>/<tune>.yaml``).
    tune: str | None = None
    #: The datasets the sweep runs on (None: every dataset asked for).
    datasets: tuple[str, ...] | None = None

    def runs_on(self, dataset: str) -> bool:
        return self.datasets is None or dataset in self.datasets

    @property
    def report_name(self) -> str | None:
        """The ``NAME`` of ``NAME=DIR`` for the report: a table's layout, or None for the ``runs`` section."""
        return None if self.placeholder == RUNS else self.placeholder


@dataclass(frozen=True)
class Profile:
    """Settings added to every sweep, where the sweeps go and how their time is estimated."""

    name: str
    root: Path
    overrides: tuple[str, ...]
    estimate: dict[str, Any]
    #: Added to the tuning sweeps only (e.g. fewer trials for a smoke test).
    tuning_overrides: tuple[str, ...] = ()
    #: Where tuning writes the chosen values: ``conf`` (conf/hparams/tuned/, the paper's) or ``root``
    #: (``<root>/tuned/hparams/tuned/``, given to every sweep as ``hydra.searchpath``: a smoke test's
    #: values never replace the committed ones).
    tuned: str = "conf"

    @property
    def tuned_root(self) -> Path:
        """The config folder holding ``hparams/tuned/``."""
        return CONF if self.tuned == "conf" else self.root / "tuned"

    @property
    def search_path(self) -> list[str]:
        """The override that lets the sweeps find tuned values outside conf/ (none for conf/)."""
        return [] if self.tuned == "conf" else [f"hydra.searchpath=[file://{self.tuned_root.resolve()}]"]

    def tuned_file(self, dataset: str, method: str) -> Path:
        return self.tuned_root / "hparams" / "tuned" / dataset / f"{method}.yaml"


def load_manifest(path: Path = MANIFEST) -> list[Entry]:
    """The manifest's tuning sweeps, then its sweeps in document order; an unknown placeholder or key is a
    ConfigError."""
    data = _load(path)
    unknown_sections = set(data) - {"sweeps", TUNING}
    if unknown_sections:
        raise ConfigError(f"{path}: unknown section(s) {', '.join(sorted(unknown_sections))}")
    return [*_tuning_entries(data.get(TUNING) or {}, path), *_sweep_entries(data, path)]


def _tuning_entries(tuning: Any, path: Path) -> list[Entry]:
    """``tuning: {<method>: {search: <conf/hparams/search/ name>, data: [datasets]}}``."""
    if not isinstance(tuning, dict):
        raise ConfigError(f"{path}: `tuning` must map methods to their searches")
    entries = []
    for method, spec in tuning.items():
        spec = spec or {}
        unknown = set(spec) - {"search", "data", "overrides"}
        if unknown or "search" not in spec:
            raise ConfigError(
                f"{path}: tuning.{method} needs `search` (a conf/hparams/search/ name) and may have `data` "
                f"and `overrides`; got {', '.join(sorted(spec)) or 'nothing'}"
            )
        if not (CONF / "hparams" / "search" / f"{spec['search']}.yaml").is_file():
            raise ConfigError(
                f"{path}: tuning.{method}.search={spec['search']}: no conf/hparams/search/ file"
            )
        datasets = spec.get("data")
        entries.append(
            Entry(
                f"{TUNING}/{method}",
                (f"+hparams/search={spec['search']}", *(str(o) for o in spec.get("overrides") or ())),
                seeds=False,
                tune=str(method),
                datasets=None if datasets is None else tuple(str(d) for d in datasets),
            )
        )
    return entries


def _sweep_entries(data: dict[str, Any], path: Path) -> list[Entry]:
    sweeps = data.get("sweeps")
    if not isinstance(sweeps, dict) or not sweeps:
        raise ConfigError(f"{path}: `sweeps` must map placeholders to sweeps")
    known = {*LAYOUTS, RUNS}
    entries = []
    for placeholder, spec in sweeps.items():
        if placeholder not in known:
            raise ConfigError(
                f"{path}: sweeps.{placeholder} is not a placeholder of the results template "
                f"(one of {', '.join(sorted(known))})"
            )
        spec = spec or {}
        unknown = set(spec) - {"overrides", "seeds"}
        if unknown:
            raise ConfigError(f"{path}: sweeps.{placeholder} has unknown key(s) {', '.join(sorted(unknown))}")
        entries.append(
            Entry(
                placeholder, tuple(str(o) for o in spec.get("overrides") or ()), bool(spec.get("seeds", True))
            )
        )
    return entries


def load_profile(name: str) -> Profile:
    """``conf/reproduce/profile/<name>.yaml``; an unknown name is a ConfigError listing the profiles."""
    path = PROFILES / f"{name}.yaml"
    if not path.is_file():
        names = ", ".join(sorted(p.stem for p in PROFILES.glob("*.yaml")))
        raise ConfigError(f"profile={name}: no {path}; profiles: {names}")
    data = _load(path)
    estimate = data.get("estimate") or {}
    if "default" not in (estimate.get("seconds_per_epoch") or {}):
        raise ConfigError(f"{path}: estimate.seconds_per_epoch.default is missing")
    root = Path(data.get("root", f"outputs/reproduce-{name}"))
    tuned = str(data.get("tuned", "conf"))
    if tuned not in ("conf", "root"):
        raise ConfigError(f"{path}: tuned must be conf or root, got {tuned!r}")
    return Profile(
        name,
        root,
        tuple(str(o) for o in data.get("overrides") or ()),
        estimate,
        tuple(str(o) for o in data.get("tuning_overrides") or ()),
        tuned,
    )


def select(entries: list[Entry], only: list[str] | None) -> list[Entry]:
    """The entries named in ``only`` (all when None; ``tuning`` names every tuning sweep), in manifest
    order; an unknown name is a ConfigError."""
    if not only:
        return entries
    if TUNING in only:
        only = [name for name in only if name != TUNING] + [e.placeholder for e in entries if e.tune]
    names = {entry.placeholder for entry in entries}
    unknown = [name for name in only if name not in names]
    if unknown:
        raise ConfigError(
            f"only={','.join(only)}: {', '.join(unknown)} not in the manifest ({', '.join(sorted(names))})"
        )
    return [entry for entry in entries if entry.placeholder in only]


def _load(path: Path) -> dict[str, Any]:
    data = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping")
    return data  # type: ignore[return-value]
