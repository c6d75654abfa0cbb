"""CIFAR-10 from a local directory, in either standard distribution, without trusting pickle.

- binary version: ``data_batch_1.bin`` … ``data_batch_5.bin`` and ``test_batch.bin``, each a run
  of 3,073-byte records (1 label byte, then 3,072 pixel bytes: 1,024 red, 1,024 green, 1,024 blue);
- python version: ``data_batch_1`` … ``data_batch_5`` and ``test_batch``, pickled dicts with
  ``data`` (N x 3,072 uint8) and ``labels``. They are read with :class:`RestrictedUnpickler`,
  which admits plain containers, strings, bytes and numbers plus numpy's uint8 array rebuild —
  any other global (the way a malicious pickle runs code) is refused.

The directory may be the one that holds the files or its parent (``cifar-10-batches-bin`` /
``cifar-10-batches-py``). A batch may hold any number of records, so tests use tiny fixtures.
Anything missing or malformed raises :class:`CifarError` with one line saying what was expected.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from actsearch.evaluators.data import Split, memoised
from actsearch.evaluators.errors import TaskError

RECORD = 1 + 3 * 32 * 32
TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_FILE = "test_batch"
EXPECTED = (
    "expected CIFAR-10 batches data_batch_1..5 and test_batch (python version) "
    "or data_batch_1..5.bin and test_batch.bin (binary version)"
)
# numpy's array rebuild: enough for the python version's uint8 data, nothing that runs code.
_NUMPY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"),
}


class CifarError(TaskError):
    """The CIFAR-10 directory is missing, incomplete or malformed."""


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that refuses every global except numpy's plain-array rebuild."""

    def find_class(self, module: str, name: str) -> type:
        if (module, name) in _NUMPY_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")


def find_dir(data_dir: str | Path | None) -> tuple[Path, str]:
    """The directory that holds the batches and its format ("binary" or "python")."""
    if data_dir is None:
        raise CifarError(f"cifar10 needs a data directory (--data-dir or ACTSEARCH_DATA); {EXPECTED}")
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise CifarError(f"cifar10 data directory {str(root)!r} does not exist; {EXPECTED}")
    for cand in (root, root / "cifar-10-batches-bin", root / "cifar-10-batches-py"):
        if (cand / "test_batch.bin").is_file():
            return cand, "binary"
        if (cand / "test_batch").is_file():
            return cand, "python"
    raise CifarError(f"no CIFAR-10 batches in {str(root)!r}; {EXPECTED}")


def read_binary(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, 32, 32) uint8 and labels (N,) from one binary batch."""
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % RECORD:
        raise CifarError(f"{path.name}: size {raw.size} bytes is not a whole number of {RECORD}-byte records")
    rec = raw.reshape(-1, RECORD)
    labels = rec[:, 0].astype(np.int64)
    if labels.max() > 9:
        raise CifarError(f"{path.name}: label byte {int(labels.max())} is not a CIFAR-10 class (0-9)")
    return rec[:, 1:].reshape(-1, 3, 32, 32), labels


def read_python(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, 32, 32) uint8 and labels (N,) from one pickled batch, read safely."""
    try:
        obj = RestrictedUnpickler(io.BytesIO(path.read_bytes()), encoding="bytes").load()
    except Exception as err:  # any unpickling failure is a malformed file
        raise CifarError(f"{path.name}: not a CIFAR-10 python batch ({_one_line(err)})") from None
    if not isinstance(obj, dict):
        raise CifarError(f"{path.name}: expected a pickled dict with 'data' and 'labels'")
    get = {(k.decode() if isinstance(k, bytes) else k): v for k, v in obj.items()}
    data, labels = get.get("data"), get.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise CifarError(f"{path.name}: 'data' must be an N x 3072 uint8 array")
    labels = np.asarray(labels if labels is not None else [], dtype=np.int64)
    if labels.shape != (data.shape[0],) or labels.min(initial=0) < 0 or labels.max(initial=0) > 9:
        raise CifarError(f"{path.name}: 'labels' must be N class numbers 0-9")
    return data.reshape(-1, 3, 32, 32), labels


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def load_arrays(data_dir: str | Path | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Train images, train labels, test images, test labels (uint8 NCHW, int64)."""
    folder, fmt = find_dir(data_dir)
    suffix, read = (".bin", read_binary) if fmt == "binary" else ("", read_python)
    missing = [n + suffix for n in TRAIN_FILES if not (folder / (n + suffix)).is_file()]
    if missing:
        raise CifarError(f"{folder}: missing {', '.join(missing)}; {EXPECTED}")
    parts = [read(folder / (n + suffix)) for n in TRAIN_FILES]
    x_test, y_test = read(folder / (TEST_FILE + suffix))
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), x_test, y_test)


def cifar10(data_dir: str | Path | None, val_size: int = 5000, train_size: int | None = None) -> Split:
    """CIFAR-10 normalised per channel; the last ``val_size`` training images validate."""
    folder, _ = find_dir(data_dir)

    def load() -> Split:
        x_tr, y_tr, x_te, y_te = load_arrays(folder)
        n_val = min(val_size, len(y_tr) // 5)
        n_train = len(y_tr) - n_val if train_size is None else min(train_size, len(y_tr) - n_val)
        x = torch.from_numpy(x_tr).float().div_(255)
        mean, std = x[:n_train].mean((0, 2, 3), keepdim=True), x[:n_train].std((0, 2, 3), keepdim=True)
        norm = lambda a: (a - mean) / std.clamp_min(1e-3)  # noqa: E731
        yt = torch.from_numpy(y_tr)
        xte = norm(torch.from_numpy(x_te).float().div_(255))
        return Split(norm(x[:n_train]), yt[:n_train], norm(x[-n_val:]), yt[-n_val:],
                     xte, torch.from_numpy(y_te), 10)

    return memoised(("cifar10", str(folder.resolve()), val_size, train_size), load)


def crop_flip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random horizontal flips per image and one random 4-pixel-padded crop shift per batch (the
    ``cifar10`` task's augmentation)."""
    flip = (torch.rand(len(x), generator=gen) < 0.5).to(x.device).view(-1, 1, 1, 1)
    x = torch.where(flip, x.flip(3), x)
    i, j = (int(v) for v in torch.randint(0, 9, (2,), generator=gen))
    return F.pad(x, (4, 4, 4, 4))[:, :, i:i + x.shape[2], j:j + x.shape[3]]
