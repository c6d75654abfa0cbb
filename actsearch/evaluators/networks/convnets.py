"""Plain 1-D CNNs without normalisation: the MNIST-1D paper's CNN family (Greydanus 2020), strided
1-D convolutions each followed by the candidate, a linear head on the flattened features.
"""

from __future__ import annotations

import torch
from torch import nn

from actsearch.evaluators.networks.init import ActFactory, init_hidden


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
