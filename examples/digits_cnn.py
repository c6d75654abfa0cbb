"""A 2-D CNN on scikit-learn's 8x8 digits, as a ``ModelTask`` (actsearch's own training loop).

Score a candidate on it, or compare the baselines, from the command line::

    actsearch evaluate "x * sigmoid(beta * x)" --task examples/digits_cnn.py:task --seeds 2
    actsearch baselines --task examples/digits_cnn.py:task --seeds 2 --set steps=150
    actsearch tasks examples/digits_cnn.py:task          # its settings (--set NAME=VALUE)

or run this file: it evaluates two activations through the Python API and swaps the winner
into a fresh network with ``actsearch.swap_activations``.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn

import actsearch


def digits_images() -> tuple[tuple[torch.Tensor, torch.Tensor], ...]:
    """The 1,797 digits as 1x8x8 images in [0, 1], shuffled with seed 0: 1,197 train, 300 val, 300 test."""
    bunch = load_digits()
    order = np.random.default_rng(0).permutation(len(bunch.target))
    x = torch.tensor(bunch.images[order] / 16.0, dtype=torch.float32).unsqueeze(1)
    y = torch.tensor(bunch.target[order], dtype=torch.long)
    return (x[:1197], y[:1197]), (x[1197:1497], y[1197:1497]), (x[1497:], y[1497:])


class DigitsCNN(nn.Module):
    """conv 3x3 → f → conv 3x3 stride 2 → f → linear → f → linear: about 40K weights."""

    def __init__(self, act=nn.ReLU, channels: int = 16) -> None:  # noqa: ANN001 - a module factory
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1), act(),
            nn.Conv2d(channels, 2 * channels, 3, stride=2, padding=1), act(),  # 8x8 -> 4x4
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(2 * channels * 16, 64), act(), nn.Linear(64, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


train, val, test = digits_images()
task = actsearch.ModelTask(model=DigitsCNN, train=train, val=val, test=test, name="digits-cnn",
                           steps=300, batch_size=64, lr=3e-3)


if __name__ == "__main__":
    for candidate in ("relu", "x * sigmoid(beta * x)"):
        res = actsearch.evaluate(candidate, task, seeds=(0, 1))
        print(f"{candidate:>24}: {res.status} {res.score:.4f} ± {res.score_std:.4f}  "
              f"PD {res.metrics.get('pd', float('nan')):.3f}  DNR {res.metrics.get('dnr', float('nan')):.3f}")
    net = DigitsCNN()  # a plain network with nn.ReLU modules
    print("swapped", actsearch.swap_activations(net, "x * sigmoid(beta * x)", kinds=(nn.ReLU,)), "activations")
