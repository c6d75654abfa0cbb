"""Residual networks: the 1-D pre-activation ResNet with batch norm (``mnist1d-resnet``), its
layer-normalised variant (``GroupNorm(1, C)``: one mean/variance per example; ``norm="batch"``
gives the batch-norm one at the same size; ``mnist1d-resnet-ln``), and ResNet-20, the Swish
paper's CIFAR-10 child network.
"""

from __future__ import annotations

import torch
from torch import nn

from actsearch.evaluators.networks.init import ActFactory, init_hidden


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


NORMS = ("layer", "batch")


def _norm(kind: str, channels: int) -> nn.Module:
    if kind not in NORMS:
        raise ValueError(f"unknown norm {kind!r}; expected one of {', '.join(NORMS)}")
    return nn.GroupNorm(1, channels) if kind == "layer" else nn.BatchNorm1d(channels)


class NormBlock1d(nn.Module):
    """Pre-activation residual block: N → f → conv → N → f → conv, plus a (projected) skip."""

    def __init__(self, c_in: int, c_out: int, stride: int, act: ActFactory, norm: str, init: str,
                 gain: float | None) -> None:
        super().__init__()
        self.n1, self.act1 = _norm(norm, c_in), act()
        self.conv1 = nn.Conv1d(c_in, c_out, 3, stride, 1, bias=False)
        self.n2, self.act2 = _norm(norm, c_out), act()
        self.conv2 = nn.Conv1d(c_out, c_out, 3, 1, 1, bias=False)
        self.skip = nn.Conv1d(c_in, c_out, 1, stride, bias=False) if stride != 1 or c_in != c_out else None
        for conv in (self.conv1, self.conv2):
            init_hidden(conv, init, gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act1(self.n1(x))
        skip = x if self.skip is None else self.skip(out)
        return self.conv2(self.act2(self.n2(self.conv1(out)))) + skip


class LNResNet1d(nn.Module):
    """Stem conv, ``blocks`` residual blocks (channels doubling after the first, up to 4×, each
    later block halving the length), N → f, global average pool, Linear."""

    def __init__(self, act: ActFactory, channels: int = 16, blocks: int = 3, n_out: int = 10,
                 norm: str = "layer", init: str = "he-relu", gain: float | None = None) -> None:
        super().__init__()
        self.stem = nn.Conv1d(1, channels, 5, 1, 2, bias=False)
        init_hidden(self.stem, init, gain)
        layers, c = [], channels
        for i in range(blocks):
            c_out = channels * 2 ** min(i, 2)
            layers.append(NormBlock1d(c, c_out, 1 if i == 0 else 2, act, norm, init, gain))
            c = c_out
        self.blocks = nn.Sequential(*layers)
        self.norm, self.act = _norm(norm, c), act()
        self.fc = nn.Linear(c, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.blocks(self.stem(x.unsqueeze(1)))
        return self.fc(self.act(self.norm(out)).mean(-1))


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
