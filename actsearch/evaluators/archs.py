"""Transfer child networks for MNIST-1D: a plain 1-D CNN, a layer-normalised 1-D ResNet and a
small vision-transformer-style network; each takes an activation *factory* like :mod:`models`.

- :class:`ConvNet1d`: the MNIST-1D paper's CNN family (Greydanus 2020): strided 1-D convolutions,
  each followed by the candidate, no normalisation, a linear head on the flattened features.
- :class:`LNResNet1d`: pre-activation residual blocks like :class:`models.PreActBlock1d` with
  layer norm (``GroupNorm(1, C)``: one mean/variance per example over channels and positions)
  instead of batch norm; ``norm="batch"`` gives the batch-norm variant at the same size.
- :class:`ViT1d`: the 40-sample signal cut into non-overlapping patches, each a token (linear
  embedding + learned position), pre-LayerNorm transformer blocks (attention, then an MLP whose
  hidden layer uses the candidate), mean-pooled tokens, LayerNorm and a linear head.

Hidden layers use :func:`models.init_hidden`; heads, embeddings and attention keep torch's
default initialisation.
"""

from __future__ import annotations

import torch
from torch import nn

from actsearch.evaluators.models import ActFactory, init_hidden

NORMS = ("layer", "batch")


class ConvNet1d(nn.Module):
    """``layers`` × [Conv1d(kernel, stride 2) → f] on (N, length) inputs, then Linear → classes."""

    def __init__(self, act: ActFactory, channels: int = 32, layers: int = 3, kernel: int = 5,
                 length: int = 40, n_out: int = 10, init: str = "he-relu", gain: float | None = None) -> None:
        super().__init__()
        convs: list[nn.Module] = []
        c, n = 1, length
        for _ in range(layers):
            conv = nn.Conv1d(c, channels, kernel, stride=2, padding=kernel // 2)
            init_hidden(conv, init, gain)
            convs += [conv, act()]
            c, n = channels, (n + 2 * (kernel // 2) - kernel) // 2 + 1
        self.features = nn.Sequential(*convs)
        self.fc = nn.Linear(c * n, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x.unsqueeze(1)).flatten(1))


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


class TransformerBlock(nn.Module):
    """Pre-LN block: x + Attn(LN(x)), then x + W2 f(W1 LN(x)) (the MLP runs on (N·T, D) rows, so
    the dead-neuron rate counts the MLP's hidden units)."""

    def __init__(self, dim: int, heads: int, hidden: int, act: ActFactory, init: str, gain: float | None) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.ln2 = nn.LayerNorm(dim)
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), act(), nn.Linear(hidden, dim)
        init_hidden(self.fc1, init, gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.ln1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        n, t, d = x.shape
        return x + self.fc2(self.act(self.fc1(self.ln2(x).reshape(n * t, d)))).reshape(n, t, d)


class ViT1d(nn.Module):
    """Patch tokens of a (N, length) signal through ``depth`` pre-LN transformer blocks."""

    def __init__(self, act: ActFactory, length: int = 40, patch: int = 4, dim: int = 32, depth: int = 2,
                 heads: int = 4, mlp_ratio: int = 2, n_out: int = 10, init: str = "he-relu",
                 gain: float | None = None) -> None:
        super().__init__()
        if length % patch:
            raise ValueError(f"patch {patch} does not divide the input length {length}")
        self.patch = patch
        self.embed = nn.Linear(patch, dim)
        self.pos = nn.Parameter(torch.randn(length // patch, dim) * 0.02)
        self.blocks = nn.Sequential(*(TransformerBlock(dim, heads, dim * mlp_ratio, act, init, gain)
                                      for _ in range(depth)))
        self.ln = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.embed(x.reshape(len(x), -1, self.patch)) + self.pos
        return self.fc(self.ln(self.blocks(tokens)).mean(1))
