"""CIFAR-10 on ResNet-20 (the Swish paper's child network), read from a local directory."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from actsearch.evaluators.builtin.common import EXAMPLES, WIDTH, TrainConfig
from actsearch.evaluators.registry import register_task
from actsearch.limits import Range

IMAGES = 60_000  # training and test images


@dataclass
class Cifar10Config(TrainConfig):
    """CIFAR-10 on ResNet-20 (the Swish paper's child network), read from a local directory."""

    steps: int = 2000  # optimizer steps (the paper used 10K; this is a CPU-friendly default)
    data_dir: str | None = None  # directory with the batches; default $ACTSEARCH_DATA
    val_size: int = 5000  # last training images held out for validation (scored)
    train_size: int | None = None  # cap on training images (None: all the rest)
    width: int = 16  # channels of the first stage (16, 32, 64 in ResNet-20)
    blocks_per_stage: int = 3  # basic blocks per stage (3 → ResNet-20)
    augment: bool = True  # random crop (pad 4) and horizontal flip
    device: str = "auto"  # auto (a GPU when present), cpu or cuda


def split(cfg: Cifar10Config) -> Any:
    from actsearch.evaluators.cifar import cifar10

    return cifar10(cfg.data_dir or os.environ.get("ACTSEARCH_DATA"), cfg.val_size, cfg.train_size)


def _resnet20(cfg: Any, act: Any, gain: float | None) -> Any:
    from actsearch.evaluators import networks

    return networks.ResNet20(act, 10, cfg.init, gain, cfg.width, cfg.blocks_per_stage)


def check(name: str, cfg: Cifar10Config) -> None:
    """A device torch can use here."""
    from actsearch.evaluators.task import check_device

    check_device(name, cfg.device)


@register_task("cifar10", description="CIFAR-10 on ResNet-20 (the Swish paper's child network), from a local directory",
               config=Cifar10Config,
               limits={"val_size": EXAMPLES, "train_size": EXAMPLES, "width": WIDTH,
                       "blocks_per_stage": Range(1, 64)},
               tiny={"steps": 3, "batch_size": 8, "width": 4, "blocks_per_stage": 1, "val_size": 10},
               check=check, input_shape=(3, 32, 32), examples=IMAGES)
def cifar10(name: str, config: Cifar10Config) -> Any:
    from actsearch.evaluators.cifar import crop_flip
    from actsearch.evaluators.classification import ClassificationTask
    from actsearch.evaluators.task import config_device

    return ClassificationTask(name, config, split, _resnet20, device=config_device,
                              augment=lambda cfg: crop_flip if cfg.augment else None)
