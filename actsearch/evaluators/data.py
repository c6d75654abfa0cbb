"""Data sets for the evaluator tasks, all available offline.

- ``mnist1d``: MNIST-1D (Greydanus 2020) made by the ``mnist1d`` package's procedural generator
  (``make_dataset``; never its download path), cached as ``.npz`` in the cache directory
  (``$ACTSEARCH_CACHE``, else ``$XDG_CACHE_HOME/actsearch``, else ``~/.cache/actsearch``).
- ``digits``: scikit-learn's bundled 8x8 digits.
- ``cifar10``: read from a local directory by :mod:`actsearch.evaluators.cifar`.
- ``xor`` and ``teacher``: generated in memory (see :mod:`actsearch.evaluators.toy`).

A :class:`Split` holds float32 inputs and int64 labels as torch tensors for train, validation
and test; loaded splits are memoised per process so a search does not reload them per trial.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

_MEMO: dict[tuple, Split] = {}
_LOCK = threading.Lock()


@dataclass
class Split:
    """Train / validation / test tensors of one classification data set."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: int

    def to(self, device: torch.device) -> Split:
        """The same split with every tensor on ``device``."""
        moved = {k: v.to(device) for k, v in self.__dict__.items() if isinstance(v, torch.Tensor)}
        return Split(**moved, classes=self.classes)


def cache_dir() -> Path:
    """The directory generated data sets are cached in (created on demand)."""
    if os.environ.get("ACTSEARCH_CACHE"):
        path = Path(os.environ["ACTSEARCH_CACHE"])
    elif os.environ.get("XDG_CACHE_HOME"):
        path = Path(os.environ["XDG_CACHE_HOME"]) / "actsearch"
    else:
        path = Path.home() / ".cache" / "actsearch"
    path.mkdir(parents=True, exist_ok=True)
    return path


def memoised(key: tuple, load: Callable[[], Split]) -> Split:
    """Return ``load()`` once per ``key`` per process."""
    with _LOCK:
        if key not in _MEMO:
            _MEMO[key] = load()
        return _MEMO[key]


def _split(x: np.ndarray, y: np.ndarray, n_train: int, n_val: int, classes: int) -> Split:
    """Cut arrays in order into train, validation and the rest as test."""
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    yt = torch.from_numpy(np.ascontiguousarray(y, dtype=np.int64))
    a, b = n_train, n_train + n_val
    return Split(xt[:a], yt[:a], xt[a:b], yt[a:b], xt[b:], yt[b:], classes)


def mnist1d_arrays(num_samples: int = 20000, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-1D inputs (N, 40) and labels, generated once and cached as ``.npz``."""
    path = cache_dir() / f"mnist1d-n{num_samples}-s{seed}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as f:
            return f["x"], f["y"]
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args(as_dict=False)
    args.num_samples, args.seed, args.train_split = num_samples, seed, 1.0
    state = np.random.get_state()  # make_dataset seeds numpy's global generator; restore it
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(state)
    x, y = data["x"].astype(np.float32), data["y"].astype(np.int64)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez(tmp, x=x, y=y)
    os.replace(tmp, path)
    return x, y


def mnist1d(num_samples: int = 20000, train_size: int = 16000, val_size: int = 2000, seed: int = 42) -> Split:
    """MNIST-1D as a split: the first ``train_size`` examples train, then validation, then test."""
    if train_size + val_size >= num_samples:
        raise ValueError("mnist1d: train_size + val_size must leave examples for the test set")

    def load() -> Split:
        x, y = mnist1d_arrays(num_samples, seed)
        return _split(x, y, train_size, val_size, 10)

    return memoised(("mnist1d", num_samples, train_size, val_size, seed), load)


def digits(val_size: int = 300, test_size: int = 300) -> Split:
    """scikit-learn's 8x8 digits (1,797 images), pixels scaled to [0, 1], shuffled with seed 0."""

    def load() -> Split:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        order = np.random.default_rng(0).permutation(len(bunch.target))
        x, y = bunch.data[order] / 16.0, bunch.target[order]
        return _split(x, y, len(y) - val_size - test_size, val_size, 10)

    return memoised(("digits", val_size, test_size), load)
