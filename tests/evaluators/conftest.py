"""Fixtures for the evaluator tests: a private data cache, tiny task budgets, CIFAR-10 fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from evalhelpers import write_cifar


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Generated data sets go to a temporary cache, never the user's."""
    mp = pytest.MonkeyPatch()
    mp.setenv("ACTSEARCH_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def cifar_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_cifar(tmp_path_factory.mktemp("cifar") / "cifar-10-batches-bin", "binary")


@pytest.fixture(scope="session")
def cifar_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_cifar(tmp_path_factory.mktemp("cifar") / "cifar-10-batches-py", "python")


@pytest.fixture
def one_thread():
    """Training called directly runs on torch's threads: one, as a task's run_pack sets."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
