"""Networks written the way timm and torchvision write theirs, as ``ModelTask``s: the activation
is a constructor argument, or hard-coded and swapped inside the builder.

timm's models take ``act_layer=`` and call ``act_layer(inplace=True)`` (or ``act_layer()``,
``act_layer(True)``); torchvision's builders take ``activation_layer=`` and call it with
``inplace=`` or nothing. The ``act`` that actsearch hands ``model(act)`` accepts all of these (the
flag is ignored: a candidate never computes in place), so with timm installed the task is::

    task = actsearch.ModelTask(model=lambda act: timm.create_model("resnet10t", num_classes=10, act_layer=act), ...)

torchvision's ResNets hard-code ``nn.ReLU(inplace=True)``: swap the candidate in inside the builder::

    model=lambda act: with_act(torchvision.models.resnet18(num_classes=10), act)

This file writes both conventions in a few lines of torch (no timm or torchvision needed) and
trains them on scikit-learn's 8x8 digits::

    actsearch evaluate swish --task examples/timm_style_task.py:task --seeds 2
    actsearch evaluate swish --task examples/timm_style_task.py:torchvision_task --seeds 2
    actsearch search --task examples/timm_style_task.py:task --space x-gated --searcher random \\
        --budget 10 --set steps=100 --run-dir runs/timm-style
"""

from __future__ import annotations

import torch
from digits_cnn import digits_images  # the neighbour example's data: the same digits, split the same way
from torch import nn

import actsearch


class TimmStyleBlock(nn.Module):
    """A ResNet basic block in timm's convention: ``act_layer`` is a class, called with ``inplace=True``."""

    def __init__(self, channels: int, act_layer=nn.ReLU) -> None:  # noqa: ANN001 - a module factory
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.act1 = act_layer(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.act2 = act_layer(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.act1(self.bn1(self.conv1(x)))
        return self.act2(self.bn2(self.conv2(x)) + shortcut)


class TimmStyleResNet(nn.Module):
    """stem (conv, BN, act) → two timm-style blocks → pool → linear; ``timm.create_model(..., act_layer=)`` in small."""

    def __init__(self, act_layer=nn.ReLU, channels: int = 16, num_classes: int = 10) -> None:  # noqa: ANN001
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels),
                                  act_layer(inplace=True))
        self.blocks = nn.Sequential(*(TimmStyleBlock(channels, act_layer) for _ in range(2)))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


class HardCodedReLUNet(nn.Module):
    """A network in torchvision's ResNet convention: ``nn.ReLU(inplace=True)`` written into it."""

    def __init__(self, channels: int = 16, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(inplace=True),
            nn.Conv2d(channels, 2 * channels, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(2 * channels),
            nn.ReLU(inplace=True),
        )
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * channels, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def with_act(net: nn.Module, act) -> nn.Module:  # noqa: ANN001 - act is a module factory
    """``net`` with every ``nn.ReLU`` replaced by a fresh module of ``act`` (the swap inside the builder)."""
    actsearch.swap_activations(net, act, kinds=(nn.ReLU,))
    return net


train, val, test = digits_images()
task = actsearch.ModelTask(model=lambda act: TimmStyleResNet(act_layer=act), train=train, val=val, test=test,
                           name="timm-style-resnet", steps=200, batch_size=64, lr=3e-3)
torchvision_task = actsearch.ModelTask(model=lambda act: with_act(HardCodedReLUNet(), act), train=train, val=val,
                                       test=test, name="torchvision-style-cnn", steps=200, batch_size=64, lr=3e-3)


if __name__ == "__main__":
    for name, each in (("timm-style act_layer=", task), ("torchvision-style swap", torchvision_task)):
        res = actsearch.evaluate("x * sigmoid(beta * x)", each, seeds=(0,))
        print(f"{name:>24}: {res.status} {res.score:.4f}")
