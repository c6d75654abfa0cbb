"""Child networks the evaluators train; every one takes an activation *factory*.

``act`` is a zero-argument callable returning a fresh ``nn.Module``; each place an activation is
applied gets its own instance, so a learnable constant (β) is one scalar per layer. Hidden layers
are initialised by :func:`init_hidden` (He-normal with ReLU's gain, with the candidate's own gain,
or torch's default); output layers keep torch's default initialisation.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

ActFactory = Callable[[], nn.Module]
INITS = ("he-relu", "he-gain", "default")


def init_hidden(layer: nn.Module, init: str, gain: float | None) -> None:
    """He-normal weights (std = gain / sqrt(fan_in)) and zero bias, unless ``init == "default"``."""
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; expected one of {', '.join(INITS)}")
    if init == "default":
        return
    g = math.sqrt(2.0) if init == "he-relu" or gain is None or not math.isfinite(gain) else gain
    fan_in = nn.init._calculate_fan_in_and_fan_out(layer.weight)[0]
    with torch.no_grad():
        layer.weight.normal_(0.0, g / math.sqrt(fan_in))
        if layer.bias is not None:
            layer.bias.zero_()


class MLP(nn.Sequential):
    """Plain MLP: ``depth`` hidden layers of ``width`` units, each followed by the activation."""

    def __init__(self, n_in: int, width: int, depth: int, n_out: int, act: ActFactory,
                 init: str = "he-relu", gain: float | None = None) -> None:
        layers: list[nn.Module] = []
        for i in range(depth):
            lin = nn.Linear(n_in if i == 0 else width, width)
            init_hidden(lin, init, gain)
            layers += [lin, act()]
        layers.append(nn.Linear(width if depth else n_in, n_out))
        super().__init__(*layers)


class PreActBlock1d(nn.Module):
    """Pre-activation residual block: BN → f → conv → BN → f → conv, plus a (projected) skip."""

    def __init__(self, c_in: int, c_out: int, stride: int, act: ActFactory, init: str,
                 gain: float | None) -> None:
        super().__init__()
        self.bn1, self.act1 = nn.BatchNorm1d(c_in), act()
        self.conv1 = nn.Conv1d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn2, self.act2 = nn.BatchNorm1d(c_out), act()
        self.conv2 = nn.Conv1d(c_out, c_out, 3, 1, 1, bias=False)
        self.skip = nn.Conv1d(c_in, c_out, 1, stride, bias=False) if stride != 1 or c_in != c_out else None
        for conv in (self.conv1, self.conv2):
            init_hidden(conv, init, gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act1(self.bn1(x))
        skip = x if self.skip is None else self.skip(out)
        out = self.conv2(self.act2(self.bn2(self.conv1(out))))
        return out + skip


class ResNet1d(nn.Module):
    """A small 1-D pre-activation ResNet for MNIST-1D inputs of shape (N, length)."""

    def __init__(self, act: ActFactory, channels: int = 32, blocks: int = 3, n_out: int = 10,
                 init: str = "he-relu", gain: float | None = None) -> None:
        super().__init__()
        self.stem = nn.Conv1d(1, channels, 5, 1, 2, bias=False)
        init_hidden(self.stem, init, gain)
        chans = [channels * (2 ** min(i, 2)) for i in range(blocks)]
        layers, c = [], channels
        for i, c_out in enumerate(chans):
            layers.append(PreActBlock1d(c, c_out, 1 if i == 0 else 2, act, init, gain))
            c = c_out
        self.blocks = nn.Sequential(*layers)
        self.bn, self.act = nn.BatchNorm1d(c), act()
        self.fc = nn.Linear(c, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.blocks(self.stem(x.unsqueeze(1)))
        return self.fc(self.act(self.bn(out)).mean(-1))


class BasicBlock(nn.Module):
    """ResNet-20 basic block (He et al. 2016): conv-BN-f-conv-BN, add skip, f."""

    def __init__(self, c_in: int, c_out: int, stride: int, act: ActFactory, init: str,
                 gain: float | None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1, self.act1 = nn.BatchNorm2d(c_out), act()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2, self.act2 = nn.BatchNorm2d(c_out), act()
        self.skip = None
        if stride != 1 or c_in != c_out:
            self.skip = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        for conv in (self.conv1, self.conv2):
            init_hidden(conv, init, gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x)))))
        return self.act2(out + (x if self.skip is None else self.skip(x)))


class ResNet20(nn.Module):
    """ResNet-20 for 32x32 images: 3 stages of 3 basic blocks (16, 32, 64 channels)."""

    def __init__(self, act: ActFactory, n_out: int = 10, init: str = "he-relu", gain: float | None = None,
                 width: int = 16, blocks_per_stage: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        init_hidden(self.conv, init, gain)
        self.bn, self.act = nn.BatchNorm2d(width), act()
        layers, c = [], width
        for stage in range(3):
            c_out = width * 2**stage
            for b in range(blocks_per_stage):
                layers.append(BasicBlock(c, c_out, 2 if stage and b == 0 else 1, act, init, gain))
                c = c_out
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(c, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layers(self.act(self.bn(self.conv(x))))
        return self.fc(out.mean((2, 3)))

