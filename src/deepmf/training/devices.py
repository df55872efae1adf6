"""One device per run: multi-device training is refused, and each job of a sweep gets a GPU of its own.

deepmf builds its batches inside the data module, on the training device (``data/batches.py``), not through
a sampler that Lightning could shard: under DDP every rank would train on the whole epoch and evaluate every
user, so a run on N devices would do N times the work and report nothing more. Parallelism comes from
running jobs side by side instead (Hydra's launchers), each on one device; several jobs may share a GPU.
"""

from __future__ import annotations

import os
from typing import Any

from deepmf.errors import ConfigError

#: Lightning strategies that spread one run over several processes.
DISTRIBUTED_STRATEGIES = ("ddp", "fsdp", "deepspeed")
GPU_ACCELERATORS = ("gpu", "cuda")
ONE_JOB_PER_DEVICE = (
    "deepmf trains one run on one device (its batches are built by the data module, not by a distributed "
    "sampler, so every rank would train on the whole epoch); run several jobs instead, one per device: "
    "python train.py -m ... hydra/launcher=joblib (or local, slurm), see the README's "
    "'Sweeps in parallel and on clusters'"
)


def uses_gpu(accelerator: Any, cuda_available: bool) -> bool:
    """Whether Lightning's ``accelerator`` setting trains on a CUDA GPU."""
    return accelerator in GPU_ACCELERATORS or (accelerator in (None, "auto") and cuda_available)


def requested_devices(devices: Any, on_gpu: bool, visible_gpus: int) -> int:
    """How many devices Lightning would train on for ``trainer.devices`` (an int, a string or a list)."""
    if devices is None or devices == "auto":
        return visible_gpus if on_gpu else 1
    if isinstance(devices, str):
        text = devices.strip()
        if "," in text:  # "0,1": device indices
            return len([part for part in text.split(",") if part.strip()])
        devices = int(text) if text.lstrip("-").isdigit() else devices
    if isinstance(devices, int) and not isinstance(devices, bool):
        if devices == -1:  # every device
            return visible_gpus if on_gpu else (os.cpu_count() or 1)
        return devices
    if hasattr(devices, "__len__"):  # a list (or ListConfig) of device indices
        return len(devices)
    raise ConfigError(f"trainer.devices must be an integer, a list of indices or auto, got {devices!r}")


def check_single_device(config: Any, visible_gpus: int, cuda_available: bool) -> None:
    """Refuse a trainer config that would spread one run over several devices, processes or nodes."""
    strategy = str(config.get("strategy") or "")
    if strategy.startswith(DISTRIBUTED_STRATEGIES):
        raise ConfigError(f"trainer.strategy={strategy} is not supported: {ONE_JOB_PER_DEVICE}")
    nodes = config.get("num_nodes") or 1
    if not isinstance(nodes, int) or nodes > 1:
        raise ConfigError(f"trainer.num_nodes={nodes} is not supported: {ONE_JOB_PER_DEVICE}")
    devices = config.get("devices")
    on_gpu = uses_gpu(config.get("accelerator"), cuda_available)
    if requested_devices(devices, on_gpu, visible_gpus) > 1:
        raise ConfigError(f"trainer.devices={devices} asks for several devices: {ONE_JOB_PER_DEVICE}")


def job_devices(
    config: Any, job_num: int | None, visible_gpus: int, cuda_available: bool
) -> list[int] | None:
    """The GPU of job ``k`` of a sweep, ``[k mod visible GPUs]``; None to keep ``trainer.devices``.

    Jobs that a launcher runs side by side on one machine (joblib, submitit's local executor) would all
    take GPU 0 otherwise. Only a plain count of one device is replaced: explicit indices stay as given.
    On a cluster each job sees only the GPUs it was allocated, so the rule picks among those.
    """
    if job_num is None or visible_gpus < 1 or not uses_gpu(config.get("accelerator"), cuda_available):
        return None
    devices = config.get("devices")
    if devices not in (1, "1", None, "auto"):
        return None
    return [job_num % visible_gpus]
