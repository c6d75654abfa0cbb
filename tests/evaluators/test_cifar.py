"""The CIFAR-10 loader: both distributions, a restricted unpickler, one-line errors."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from actsearch.evaluators import TaskError, get_task
from actsearch.evaluators.cifar import CifarError, cifar10, find_dir, load_arrays
from tests.helpers.evaluators import cifar_arrays, write_cifar


def test_binary_and_python_fixtures_read_the_same_images(cifar_binary, cifar_python):
    xb, yb, tb, lb = load_arrays(cifar_binary)
    xp, yp, tp, lp = load_arrays(cifar_python.parent)  # the parent directory works too
    assert xb.shape == (100, 3, 32, 32) and xb.dtype == np.uint8 and tb.shape == (20, 3, 32, 32)
    assert np.array_equal(xb, xp) and np.array_equal(yb, yp) and np.array_equal(tb, tp) and np.array_equal(lb, lp)
    x0, y0 = cifar_arrays(20, 0)
    assert np.array_equal(xb[:20].reshape(20, -1), x0) and np.array_equal(yb[:20], y0)
    assert find_dir(cifar_binary)[1] == "binary" and find_dir(cifar_python)[1] == "python"


def test_split_is_normalised_and_held_out(cifar_python):
    split = cifar10(cifar_python, val_size=10)
    assert split.x_train.shape == (90, 3, 32, 32) and split.x_val.shape == (10, 3, 32, 32)
    assert split.x_test.shape[0] == 20 and split.classes == 10
    assert abs(split.x_train.mean().item()) < 0.05 and abs(split.x_train.std().item() - 1) < 0.05


def _one_line_error(path, match):
    with pytest.raises(TaskError, match=match) as info:
        load_arrays(path)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_missing_or_empty_directory_says_what_was_expected(tmp_path):
    msg = _one_line_error(tmp_path / "nowhere", "does not exist")
    assert "data_batch_1" in msg and "test_batch" in msg
    _one_line_error(tmp_path, "no CIFAR-10 batches")
    with pytest.raises(TaskError, match="--data-dir or ACTSEARCH_DATA"):
        find_dir(None)


def test_broken_binary_batch_is_refused(tmp_path):
    folder = write_cifar(tmp_path / "bin", "binary", n=4)
    (folder / "data_batch_3.bin").write_bytes(b"\x01" * 100)
    _one_line_error(folder, "data_batch_3.bin: size 100 bytes")
    (folder / "data_batch_3.bin").unlink()
    _one_line_error(folder, "missing data_batch_3.bin")


def test_bad_labels_and_bad_python_batches_are_refused(tmp_path):
    folder = write_cifar(tmp_path / "bin", "binary", n=4)
    rec = np.zeros((2, 3073), np.uint8)
    rec[:, 0] = 12
    rec.tofile(folder / "test_batch.bin")
    _one_line_error(folder, "label byte 12")

    py = write_cifar(tmp_path / "py", "python", n=4)
    with open(py / "data_batch_2", "wb") as f:
        pickle.dump({b"data": np.zeros((3, 10), np.uint8), b"labels": [0, 1, 2]}, f)
    _one_line_error(py, "N x 3072 uint8")
    (py / "data_batch_2").write_bytes(b"not a pickle")
    _one_line_error(py, "not a CIFAR-10 python batch")


class _Exploit:
    def __reduce__(self):
        import os

        return (os.system, ("touch pwned",))


def test_restricted_unpickler_refuses_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    py = write_cifar(tmp_path / "py", "python", n=4)
    with open(py / "test_batch", "wb") as f:
        pickle.dump({b"data": _Exploit(), b"labels": []}, f)
    msg = _one_line_error(py, "not allowed")
    assert "system" in msg
    assert not (tmp_path / "pwned").exists()
    assert isinstance(CifarError("x"), TaskError)


@pytest.mark.train
def test_cifar10_task_needs_a_directory(monkeypatch):
    monkeypatch.delenv("ACTSEARCH_DATA", raising=False)
    task = get_task("cifar10", steps=1)
    with pytest.raises(TaskError, match="data directory"):
        task.evaluate_seed(lambda: __import__("torch").nn.ReLU(), 0)
