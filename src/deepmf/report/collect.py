"""Find the runs under a sweep (or single-run) folder and read what each one recorded."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

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
        name = (self.record.get("dataset") or {}).get("name") or self.choices.get("data")
        if not name:  # a run that failed early, without Hydra's record of its choices
            name = next((o.partition("=")[2] for o in self.overrides if o.startswith("data=")), None)
        return str(name or "?")

    @property
    def seed(self) -> Any:
        return self.record.get("seed", self.config.get("seed"))

    @property
    def layout(self) -> str | None:
        """The report layout the run was made for (``report=`` in its config), if any."""
        return self.config.get("report") or None

    @cached_property
    def method(self) -> str:
        return method_label(self.config)

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
    ``metrics.json`` still appears, as failed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    if is_run_folder(folder):
        return [load_job(folder)]
    found = {p.parent for p in folder.glob("**/metrics.json")}
    found |= {p.parent.parent for p in folder.glob("**/.hydra/overrides.yaml")}
    # W&B and checkpoint folders never hold these files, so every hit is a job folder.
    return [load_job(path) for path in sorted(found, key=_natural_key)]


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
    overrides = _read_yaml(hydra_dir / "overrides.yaml") or []
    hydra_meta = _read_yaml(hydra_dir / "hydra.yaml") or {}
    choices = ((hydra_meta.get("hydra") or {}).get("runtime") or {}).get("choices") or {}
    return Job(folder, record, hydra_config, [str(o) for o in overrides], dict(choices))


def _read_yaml(path: Path) -> Any:
    """A YAML file as plain containers, interpolations left unresolved: enough for names and choices."""
    if not path.is_file():
        return None
    try:
        return OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    except Exception as exc:  # a damaged file must not stop the report
        log.warning("could not read %s: %s", path, exc)
        return None
