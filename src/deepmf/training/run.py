"""A whole run: config -> data -> model -> fit (select on validation) -> test -> metrics.json."""

from __future__ import annotations

import dataclasses
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint, TQDMProgressBar

from deepmf.data.datamodule import InteractionDataModule, check_data_config
from deepmf.errors import ConfigError, DeepMFError, TrainingError
from deepmf.evaluation.per_user import FILENAME as PER_USER_FILE
from deepmf.evaluation.per_user import save_per_user
from deepmf.io import write_json_atomic
from deepmf.losses import PointwiseLoss, check_loss_config, loss_max_rating
from deepmf.models import ModelContext, build_model, check_model_config
from deepmf.models.fitted import FittedRecommender
from deepmf.training.callbacks import EpochHistory, LastEpochCheckpoint, PerUserRanks
from deepmf.training.checkpoint_io import SafeCheckpointIO
from deepmf.training.devices import check_single_device, job_devices
from deepmf.training.fast_path import FastRecommenderModule, check_fast_path_config, resolve_fast_path
from deepmf.training.fitted import FittedRecommenderModule
from deepmf.training.launcher import job_number, job_threads, launcher_config, sweep_jobs
from deepmf.training.loggers import build_loggers, check_logger_config, finish_wandb
from deepmf.training.module import OPTIMIZERS, RecommenderModule
from deepmf.training.pretrain import train_components
from deepmf.training.rerun import check_rerun
from deepmf.training.resume import DATASET_KEY, TrainingSettings, check_resume, training_settings
from deepmf.training.tuned import check_tuned_config

log = logging.getLogger(__name__)


def check_config(cfg: DictConfig) -> None:
    """Fail on invalid settings before any data is loaded, naming the key and the allowed values."""
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise ConfigError(f"{', '.join(missing)} must be given (no default), e.g. {missing[0]}=<value>")
    check_tuned_config(cfg)
    check_model_config(cfg.model)
    check_data_config(cfg.data)
    check_loss_config(cfg.loss)
    if cfg.optim.get("name", "adam") not in OPTIMIZERS:
        raise ConfigError(f"optim.name must be one of {', '.join(OPTIMIZERS)}, got {cfg.optim.name!r}")
    lr = cfg.optim.lr
    if isinstance(lr, bool) or not isinstance(lr, int | float) or not lr > 0:
        raise ConfigError(f"optim.lr must be a number > 0, got {lr!r}")
    ks = list(cfg.eval.ks)
    if not ks or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in ks):
        raise ConfigError(f"eval.ks must be a list of integers >= 1, got {ks!r}")
    monitor = str(cfg.selection.monitor)
    stage, _, k = monitor.partition("@")
    if not stage.startswith("val/") or not k.isdigit():
        raise ConfigError(f"selection.monitor must be val/<metric>@K (e.g. val/ndcg@10), got {monitor!r}")
    if int(k) not in ks:
        raise ConfigError(f"selection.monitor={monitor} needs {k} in eval.ks")
    check_logger_config(cfg.logger)
    check_trainer_config(cfg.trainer)
    check_fast_path_config(cfg.get("fast_path"))
    check_rerun(cfg.get("rerun", "incomplete"))
    resume = cfg.get("resume")
    if resume and not Path(resume).is_file():
        raise ConfigError(f"resume={resume}: no such checkpoint file (give <run dir>/checkpoints/last.ckpt)")
    if resume:
        check_resume(resume, training_settings(cfg))


def check_trainer_config(config: Any) -> None:
    """The trainer options deepmf cannot honour: another precision than float32, a GPU torch cannot see,
    several devices, processes or nodes for one run (``devices.check_single_device``)."""
    precision = config.get("precision")
    if precision not in (None, 32, "32", "32-true"):
        raise ConfigError(
            f"trainer.precision={precision} is not supported: the models (DMF's sparse first layers "
            "included) run in float32; leave trainer.precision unset"
        )
    if config.get("accelerator") in ("gpu", "cuda") and not torch.cuda.is_available():
        build_kind = f"CUDA {torch.version.cuda}" if torch.version.cuda else "no CUDA (a CPU build)"
        raise ConfigError(
            f"trainer=gpu, but torch sees no CUDA GPU (torch {torch.__version__}, built with {build_kind}); "
            "use trainer=cpu"
        )
    check_single_device(config, torch.cuda.device_count(), torch.cuda.is_available())


def build(config: Any, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate``, with our own errors unwrapped and Hydra's turned into a ConfigError."""
    try:
        return instantiate(config, **kwargs)
    except InstantiationException as exc:
        if isinstance(exc.__cause__, DeepMFError):
            raise exc.__cause__ from None
        raise ConfigError(str(exc)) from exc


def train(cfg: DictConfig, output_dir: Path, overrides: list[str] | None = None) -> dict[str, Any]:
    """Run one experiment and write ``metrics.json`` into ``output_dir`` (also when it fails)."""
    started = time.perf_counter()
    output_dir.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {
        "status": "running",
        "model": cfg.model.name,
        "loss": cfg.loss.name,
        "seed": cfg.seed,
        "overrides": list(overrides or []),
        "config": OmegaConf.to_container(cfg, resolve=True),
    }
    history = EpochHistory()
    per_user = PerUserRanks()
    exit_code = 1
    try:
        check_config(cfg)
        pl.seed_everything(cfg.seed, workers=True, verbose=False)
        launcher = launcher_config()
        threads = job_threads(cfg.get("threads"), launcher, sweep_jobs(launcher))
        if threads:
            torch.set_num_threads(threads)
        record["threads"] = torch.get_num_threads()
        datamodule: InteractionDataModule = build(cfg.data)
        datamodule.setup("fit")
        assert datamodule.info is not None
        record["dataset"] = datamodule.info.as_dict()
        if cfg.get("resume"):
            check_resume(cfg.resume, {DATASET_KEY: datamodule.info.sha256})
        log.info(
            "%s: %d users, %d items, %d ratings (density %.5f)",
            datamodule.info.name,
            datamodule.info.users,
            datamodule.info.items,
            datamodule.info.ratings,
            datamodule.info.density,
        )
        pretrained, record["components"] = train_components(cfg, output_dir, train)
        context = ModelContext(
            n_users=datamodule.n_users,
            n_items=datamodule.n_items,
            train_matrix=datamodule.train_matrix(),
            max_rating=datamodule.max_rating,
            pretrained=pretrained,
        )
        model = build_model(cfg.model, context)
        trainer_overrides: dict[str, Any] = {}
        devices = job_devices(cfg.trainer, job_number(), torch.cuda.device_count(), torch.cuda.is_available())
        if devices is not None:  # jobs side by side on one machine: each on a GPU of its own
            trainer_overrides["devices"] = record["devices"] = devices
        if isinstance(model, FittedRecommender):
            # One fit step per epoch, on one batch: no sampled-pair batches, no optimiser.
            module: RecommenderModule = FittedRecommenderModule(model, list(cfg.eval.ks), datamodule.n_items)
            datamodule.full_batch = True
            record["loss"] = None  # fitted by its own objective: no training loss
            trainer_overrides["max_epochs"] = model.fit_epochs
        else:
            loss = PointwiseLoss(cfg.loss.name, loss_max_rating(cfg.loss, datamodule.max_rating))
            optimizer = cfg.optim.get("name", "adam")
            fast = resolve_fast_path(
                cfg.get("fast_path"),
                cfg.trainer.get("accelerator"),
                torch.cuda.is_available(),
                model,
                optimizer,
            )
            record["fast_path"] = dataclasses.asdict(fast) if fast else None
            if fast:  # DMF's static-shape step (training/fast_path.py): the same numbers, faster on a GPU
                module = FastRecommenderModule(
                    model, loss, cfg.optim.lr, list(cfg.eval.ks), datamodule.n_items, fast
                )
                datamodule.steps_per_call = fast.steps_per_call
            else:
                module = RecommenderModule(
                    model, loss, cfg.optim.lr, list(cfg.eval.ks), datamodule.n_items, optimizer
                )

        has_validation = datamodule.split is not None and datamodule.split.has_validation
        resume = cfg.get("resume")
        record["resumed_from"] = resume or None
        # A resumed run keeps writing beside the checkpoint it resumed from: there the restored best
        # score and best path still apply (Lightning drops them when the folder changes).
        checkpoint_dir = Path(resume).resolve().parent if resume else output_dir / "checkpoints"
        checkpoint = best_checkpoint(checkpoint_dir, cfg.selection.monitor if has_validation else None)
        last_checkpoint = LastEpochCheckpoint(checkpoint_dir)
        # A redrawn bar floods logs when stdout is not a terminal (CI, sweeps): refresh it rarely there.
        refresh = cfg.get("progress_refresh_rate") or (1 if sys.stdout.isatty() else 500)
        callbacks: list[pl.Callback] = [
            history,
            per_user,
            TrainingSettings(cfg, datamodule.info.sha256),
            TQDMProgressBar(refresh_rate=refresh),
        ]
        # A model fitted in one step (ItemPop, ItemKNN, EASE) has no epochs to choose between: it is
        # tested as it is in memory, and its weights (EASE: an n_items^2 matrix) are never written.
        single_fit = isinstance(model, FittedRecommender) and model.fit_epochs == 1
        if single_fit:
            trainer_overrides["enable_checkpointing"] = False
        else:
            callbacks = [checkpoint, last_checkpoint, *callbacks]
        if has_validation and cfg.selection.patience:
            callbacks.append(
                EarlyStopping(monitor=cfg.selection.monitor, mode="max", patience=cfg.selection.patience)
            )
        loggers = build_loggers(cfg.logger, output_dir, record["config"])
        trainer: pl.Trainer = build(
            cfg.trainer,
            callbacks=callbacks,
            logger=loggers or False,
            default_root_dir=str(output_dir),
            plugins=[SafeCheckpointIO()],
            **trainer_overrides,
        )
        trainer.fit(module, datamodule=datamodule, ckpt_path=resume or None, weights_only=True)
        # Never select on test: the tested weights are those of the epoch validation chose.
        val_at_best = best_validation_row(history.rows, cfg.selection.monitor)
        ckpt = selected_checkpoint(checkpoint, val_at_best) if has_validation and not single_fit else None
        trainer.test(module, datamodule=datamodule, ckpt_path=ckpt, verbose=False, weights_only=True)
        metrics = {k: v for k, v in val_at_best.items() if k.startswith("val/")}
        selected_epoch = val_at_best.get("epoch")
        save_per_user(output_dir / PER_USER_FILE, per_user.stages(selected_epoch), selected_epoch)
        metrics |= {k: v for k, v in module.last_metrics.items() if k.startswith("test/")}
        record |= {
            "status": "completed",
            "best_epoch": val_at_best.get("epoch"),
            "epochs_trained": len(history.rows),
            "best_checkpoint": ckpt or last_checkpoint.best_model_path or None,
            "metrics": metrics,
        }
        exit_code = 0
    except BaseException as exc:
        record |= {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
        raise
    finally:
        record["history"] = history.rows
        epoch_seconds = [row["train_seconds"] for row in history.rows]
        record["seconds_per_epoch"] = (
            round(sorted(epoch_seconds)[len(epoch_seconds) // 2], 3) if epoch_seconds else None
        )
        record["wall_time_s"] = round(time.perf_counter() - started, 3)
        write_json_atomic(output_dir / "metrics.json", record)
        finish_wandb(exit_code, final_summary(record))
    print(summary(record, output_dir))
    return record


def final_summary(record: dict[str, Any]) -> dict[str, Any]:
    """What a run's W&B summary holds at the end: status, selected epoch, final metrics."""
    keys = ("status", "best_epoch", "epochs_trained", "seconds_per_epoch", "wall_time_s", "error")
    return {k: record[k] for k in keys if k in record} | dict(record.get("metrics") or {})


def best_checkpoint(folder: Path, monitor: str | None) -> ModelCheckpoint:
    """``best-epoch=N.ckpt``: the epoch with the highest ``monitor`` so far (the latest if None)."""
    return ModelCheckpoint(
        dirpath=folder,
        filename="best-{epoch}",
        monitor=monitor,
        mode="max",
        save_top_k=1,
        # After EpochHistory's row for the epoch, so the checkpoint carries the history up to it.
        save_on_train_epoch_end=True,
        # This run's file replaces a same-named one an earlier run left in the folder (with a version
        # counter it would be written as -v1, and the earlier run's file tested).
        enable_version_counter=False,
    )


def selected_checkpoint(checkpoint: ModelCheckpoint, selected: dict[str, Any]) -> str:
    """The checkpoint file of the epoch that validation selected over the whole history.

    Not ``checkpoint.best_model_path``: when a run resumes from a checkpoint folder that was moved or
    copied, Lightning drops the restored best score, and its "best" is then the best since the resume.
    """
    if selected.get("epoch") is None:
        return checkpoint.best_model_path
    path = Path(checkpoint.format_checkpoint_name({"epoch": selected["epoch"]}))
    if not path.is_file():
        raise TrainingError(f"{path}: the checkpoint of the epoch validation selected is missing")
    return str(path)


def best_validation_row(rows: list[dict[str, Any]], monitor: str) -> dict[str, Any]:
    """The first epoch with the highest ``monitor`` (what ModelCheckpoint keeps); the last if none."""
    scored = [row for row in rows if isinstance(row.get(monitor), float) and math.isfinite(row[monitor])]
    if not scored:
        return rows[-1] if rows else {}
    return max(scored, key=lambda row: row[monitor])


def summary(record: dict[str, Any], output_dir: Path) -> str:
    """A few readable lines: what ran, where it stopped, and the headline metrics."""
    metrics = record.get("metrics", {})
    data = record.get("dataset", {})
    lines = [
        f"\n{record['model'].upper()}{'-' + record['loss'] if record['loss'] else ''} on {data.get('name')} "
        f"(seed {record['seed']}): "
        f"best epoch {record.get('best_epoch')} of {record.get('epochs_trained')}, "
        f"{record.get('seconds_per_epoch')} s/epoch, {record.get('wall_time_s')} s in all",
        f"{'':14}{'HR@10':>8}{'NDCG@10':>9}",
    ]
    for label, prefix in (("val", "val/"), ("test", "test/"), ("test (full)", "test/full_")):
        hr, nd = metrics.get(f"{prefix}hr@10"), metrics.get(f"{prefix}ndcg@10")
        if hr is not None:
            lines.append(f"{label:14}{hr:8.4f}{nd:9.4f}")
    for note in data.get("notes", []):
        lines.append(f"NOTE: {note}")
    lines.append(f"metrics: {output_dir / 'metrics.json'}")
    return "\n".join(lines)
