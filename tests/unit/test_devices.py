"""One device per run: multi-device trainer settings are refused; jobs of a sweep spread over the GPUs."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from deepmf.errors import ConfigError
from deepmf.training.devices import check_single_device, job_devices, requested_devices
from deepmf.training.run import check_config
from tests.runs import config


def trainer(**keys):
    return OmegaConf.create({"accelerator": "cpu", "devices": 1, **keys})


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"strategy": "ddp"}, "trainer.strategy=ddp is not supported"),
        ({"strategy": "ddp_spawn"}, "trainer.strategy=ddp_spawn is not supported"),
        ({"strategy": "fsdp"}, "trainer.strategy=fsdp is not supported"),
        ({"devices": 2}, "trainer.devices=2 asks for several devices"),
        ({"devices": "2"}, "trainer.devices=2 asks for several devices"),
        ({"devices": [0, 1], "accelerator": "gpu"}, "trainer.devices=[0, 1] asks for several devices"),
        ({"devices": "0,1", "accelerator": "gpu"}, "trainer.devices=0,1 asks for several devices"),
        ({"devices": -1, "accelerator": "gpu"}, "trainer.devices=-1 asks for several devices"),
        ({"devices": "auto", "accelerator": "gpu"}, "trainer.devices=auto asks for several devices"),
        ({"num_nodes": 2}, "trainer.num_nodes=2 is not supported"),
    ],
)
def test_multi_device_training_is_refused_with_a_pointer_to_the_launchers(keys, message):
    with pytest.raises(ConfigError) as info:
        check_single_device(trainer(**keys), visible_gpus=4, cuda_available=True)
    assert message in str(info.value)
    assert "hydra/launcher=joblib" in str(info.value)  # what to do instead


@pytest.mark.parametrize(
    "keys",
    [{}, {"devices": [3], "accelerator": "gpu"}, {"devices": "1,", "accelerator": "gpu"},
     {"devices": "auto"}, {"strategy": "auto"}, {"num_nodes": 1}],
)  # fmt: skip
def test_one_device_passes(keys):
    check_single_device(trainer(**keys), visible_gpus=4, cuda_available=True)


def test_auto_is_one_device_where_one_gpu_is_visible():
    assert requested_devices("auto", on_gpu=True, visible_gpus=1) == 1
    assert requested_devices(None, on_gpu=False, visible_gpus=8) == 1


def test_check_config_refuses_ddp_before_any_data_is_read(tmp_path):
    with pytest.raises(ConfigError, match="trainer.strategy=ddp is not supported"):
        check_config(config(tmp_path / "no-data", tmp_path / "cache", "+trainer.strategy=ddp"))


def test_job_k_trains_on_gpu_k_mod_visible_gpus():
    gpu = trainer(accelerator="gpu")
    assert [job_devices(gpu, k, visible_gpus=3, cuda_available=True) for k in range(5)] == [
        [0], [1], [2], [0], [1]
    ]  # fmt: skip
    assert job_devices(gpu, 4, visible_gpus=1, cuda_available=True) == [0]  # a cluster job's own GPU


def test_devices_are_kept_outside_sweeps_on_cpu_and_when_given_explicitly():
    assert job_devices(trainer(accelerator="gpu"), None, visible_gpus=2, cuda_available=True) is None
    assert job_devices(trainer(), 1, visible_gpus=2, cuda_available=True) is None  # accelerator=cpu
    explicit = trainer(accelerator="gpu", devices=[1])
    assert job_devices(explicit, 0, visible_gpus=2, cuda_available=True) is None
    assert job_devices(trainer(accelerator="auto"), 1, visible_gpus=2, cuda_available=True) == [1]
    assert job_devices(trainer(accelerator="auto"), 1, visible_gpus=0, cuda_available=False) is None
