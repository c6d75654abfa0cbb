"""Helpers for the evaluator tests: tiny budgets, odd activations, CIFAR-10 fixtures."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch
from torch import nn

from actsearch.evaluators import registry

# Tiny budgets that still train for real (seconds on one thread).
MNIST1D_TINY = dict(num_samples=2000, train_size=1200, val_size=400, steps=60, width=32, depth=3,
                    report_subset=200, dnr_samples=200)
# Each registered task's own (``@register_task(..., tiny=...)``).
TINY = {entry.name: dict(entry.tiny) for entry in registry.entries()}



class Constant(nn.Module):
    """f(x) = 0.5: a constant activation (no gradient reaches the layers below)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full_like(x, 0.5)


class TripleExp(nn.Module):
    """exp(exp(exp(x))): overflows to inf for moderate inputs."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(torch.exp(torch.exp(x)))


class Broken(nn.Module):
    """An activation whose forward raises."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("broken activation\nsecond line")


def cifar_arrays(n: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 3072), dtype=np.uint8), rng.integers(0, 10, n).astype(np.int64)


def write_cifar(folder: Path, fmt: str, n: int = 20) -> Path:
    """A tiny CIFAR-10 directory in the binary or python distribution's layout."""
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for k, name in enumerate(names):
        x, y = cifar_arrays(n, k)
        if fmt == "binary":
            records = np.concatenate([y.astype(np.uint8)[:, None], x], axis=1)
            records.tofile(folder / f"{name}.bin")
        else:
            batch = {b"batch_label": name.encode(), b"labels": [int(v) for v in y], b"data": x,
                     b"filenames": [f"{i}.png".encode() for i in range(n)]}
            with open(folder / name, "wb") as f:
                pickle.dump(batch, f, protocol=2)
    return folder
