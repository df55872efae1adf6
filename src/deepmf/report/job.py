"""One run folder read into a ``Job``.

A job is its ``metrics.json`` (a failed stub if it left none or an earlier run's), Hydra's record of it
(config, overrides, choices, job number) and the paper's name for its method."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from deepmf.overrides import same_job

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
        """``completed`` or how the run ended (``failed`` when it recorded nothing)."""
        return str(self.record.get("status", "failed"))

    @property
    def completed(self) -> bool:
        """Whether the run finished and recorded its metrics."""
        return self.status == "completed"

    @property
    def config(self) -> dict[str, Any]:
        """The resolved config from metrics.json; Hydra's saved config if the job wrote none."""
        return self.record.get("config") or self.hydra_config

    @property
    def overrides(self) -> list[str]:
        """The run's command-line overrides, from metrics.json or else Hydra's record."""
        return list(self.record.get("overrides") or self.hydra_overrides)

    @property
    def metrics(self) -> dict[str, float]:
        """The metrics the run recorded (empty for a failed run)."""
        return dict(self.record.get("metrics") or {})

    @property
    def dataset(self) -> str:
        """The datamodule's name (``synthetic-small``); for a run that failed before naming it, the name a
        completed run on the same data recorded, else the data config's name (``synthetic``)."""
        name = self.recorded_dataset or self.inferred_dataset or self.data_config_name
        return str(name or "?")

    @property
    def recorded_dataset(self) -> str | None:
        """The datamodule's name as the run recorded it; None if it failed before naming it."""
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
        """The run's seed, as recorded or else as configured."""
        return self.record.get("seed", self.config.get("seed"))

    @property
    def layout(self) -> str | None:
        """The report layout the run was made for (``report=`` in its config), if any."""
        return self.config.get("report") or None

    @cached_property
    def method(self) -> str:
        """The paper's name for the run's method (see ``method_label``), marked if it is a job's component."""
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
    """The paper's name for a configured model: ``DMF-2-nce``, ``LFM-nce``, ``NeuMF-p``, ``ItemPop``;
    ``DMF-nce (tuned)`` for DMF with tuned values (``conf/method/dmf_tuned.yaml``)."""
    model = config.get("model") or {}
    name = str(model.get("name", "?"))
    loss = (config.get("loss") or {}).get("name", "?")
    if name == "dmf" and config.get("tuned_as"):  # conf/method/dmf_tuned.yaml: depth chosen by tuning
        return f"DMF-{loss} (tuned)"
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
    hydra_config = read_yaml(hydra_dir / "config.yaml") or {}
    overrides = [str(o) for o in read_yaml(hydra_dir / "overrides.yaml") or []]
    if _from_an_earlier_run(record, overrides):
        record = {"status": "failed", "error": STALE_RECORD}
    hydra = (read_yaml(hydra_dir / "hydra.yaml") or {}).get("hydra") or {}
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
    return bool(hydra_overrides) and recorded is not None and not same_job(recorded, hydra_overrides)


def read_yaml(path: Path) -> Any:
    """A YAML file as plain containers, interpolations left unresolved: enough for names and choices."""
    if not path.is_file():
        return None
    try:
        return OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    except Exception as exc:  # a damaged file must not stop the report
        log.warning("could not read %s: %s", path, exc)
        return None
