"""Helpers for the evaluator tests: tiny budgets, odd activations, CIFAR-10 fixtures."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch
from torch import nn

# Tiny budgets that still train for real (seconds on one thread).
MNIST1D_TINY = dict(num_samples=2000, train_size=1200, val_size=400, steps=60, width=32, depth=3,
                    report_subset=200, dnr_samples=200)
TINY = {
    "mnist1d": MNIST1D_TINY,
    "mnist1d-shallow": {**MNIST1D_TINY, "depth": 2},
    "mnist1d-resnet": {**{k: v for k, v in MNIST1D_TINY.items() if k not in ("width", "depth")},
                       "steps": 8, "channels": 8, "blocks": 2},
    "digits": {"steps": 60},
    "xor": {"trials": 4, "epochs": 60},
    "teacher": {"steps": 60, "train_size": 500, "test_size": 200},
    "cifar10": {"steps": 3, "batch_size": 8, "width": 4, "blocks_per_stage": 1, "val_size": 10},
    "mnist1d-cnn": {**{k: v for k, v in MNIST1D_TINY.items() if k not in ("width", "depth")}, "channels": 8},
    "mnist1d-resnet-ln": {**{k: v for k, v in MNIST1D_TINY.items() if k not in ("width", "depth")},
                          "steps": 8, "channels": 8, "blocks": 2},
    "mnist1d-vit": {**{k: v for k, v in MNIST1D_TINY.items() if k not in ("width",)}, "steps": 8, "dim": 16,
                    "depth": 1, "heads": 2},
    "ood-regression": {"steps": 30, "train_size": 128, "test_size": 64, "width": 16, "depth": 2},
}



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
