"""Fixtures for the evaluator tests: a private data cache, tiny task budgets, CIFAR-10 fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.helpers.evaluators import write_cifar
from tests.helpers.fixtures import private_cache

__all__ = ["cifar_binary", "cifar_python", "private_cache"]


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
