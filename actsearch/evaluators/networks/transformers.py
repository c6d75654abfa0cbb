"""A small vision-transformer-style network for 1-D signals: the signal cut into non-overlapping
patches, each a token (linear embedding + learned position), pre-LayerNorm blocks (attention, then
an MLP whose hidden layer uses the candidate), mean-pooled tokens, LayerNorm and a linear head.
Embeddings, heads and attention keep torch's default initialisation.
"""

from __future__ import annotations

import torch
from torch import nn

from actsearch.evaluators.networks.init import ActFactory, init_hidden


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
