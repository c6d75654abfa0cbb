"""scikit-learn's 8x8 digits on a small 2-D CNN: a cheap task whose candidate acts in convolutions.

The network: the 64 pixels as a 1x8x8 image → Conv2d(3x3) → f → Conv2d(3x3, stride 2) → f
(8x8 → 4x4) → Linear(channels·16, 10). The data and its split are the ``digits`` task's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actsearch.evaluators.builtin import digits
from actsearch.evaluators.builtin.common import CHANNELS, EXAMPLES, TrainConfig
from actsearch.evaluators.registry import register_task

SIDE = 8  # pixels of an image side


@dataclass
class DigitsCnnConfig(TrainConfig):
    """scikit-learn's 8x8 digits on a small 2-D CNN (two convolutions): a cheap convolutional task."""

    steps: int = 300  # optimizer steps
    batch_size: int = 64  # examples per step
    lr: float = 3e-3  # Adam learning rate (ReLU, seed 0: 0.97 after 300 steps; 0.95 with 1e-3)
    val_size: int = 300  # validation examples (scored); 300 more are the test set
    channels: int = 8  # channels of both convolutions


def network(cfg: DigitsCnnConfig, act: Any, gain: float | None) -> Any:
    """The child network (see the module docstring); hidden layers initialised by ``cfg.init``."""
    from torch import nn

    from actsearch.evaluators.networks import init_hidden

    c = cfg.channels
    convs = [nn.Conv2d(1, c, 3, padding=1), nn.Conv2d(c, c, 3, stride=2, padding=1)]
    for conv in convs:
        init_hidden(conv, cfg.init, gain)
    return nn.Sequential(nn.Unflatten(1, (1, SIDE, SIDE)), convs[0], act(), convs[1], act(), nn.Flatten(),
                         nn.Linear(c * (SIDE // 2) ** 2, 10))


@register_task("digits-cnn", description="scikit-learn's 8x8 digits on a small 2-D CNN: a cheap convolutional task",
               config=DigitsCnnConfig, limits={"val_size": EXAMPLES, "channels": CHANNELS},
               tiny={"steps": 30, "channels": 4}, check=digits.check,
               input_shape=(SIDE * SIDE,), examples=digits.SIZE)
def digits_cnn(name: str, config: DigitsCnnConfig) -> Any:
    from actsearch.evaluators.classification import ClassificationTask

    return ClassificationTask(name, config, digits.split, network)
