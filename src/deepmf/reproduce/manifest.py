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


@dataclass(frozen=True)
class Entry:
    """One sweep of the manifest: the placeholder it fills, its train.py overrides, whether it has seeds."""

    placeholder: str
    overrides: tuple[str, ...]
    seeds: bool = True

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


def load_manifest(path: Path = MANIFEST) -> list[Entry]:
    """The manifest's sweeps in document order; an unknown placeholder or key is a ConfigError."""
    data = _load(path)
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
    return Profile(
        name,
        Path(data.get("root", f"outputs/reproduce-{name}")),
        tuple(str(o) for o in data.get("overrides") or ()),
        estimate,
    )


def select(entries: list[Entry], only: list[str] | None) -> list[Entry]:
    """The entries named in ``only`` (all when None), in manifest order; an unknown name is a ConfigError."""
    if not only:
        return entries
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
