"""Fixtures for the evaluator tests: a private data cache, tiny task budgets, CIFAR-10 fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.evaluators import write_cifar
from tests.helpers.fixtures import private_cache

__all__ = ["cifar_binary", "cifar_python", "private_cache"]


@pytest.fixture(scope="session")
def cifar_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_cifar(tmp_path_factory.mktemp("cifar") / "cifar-10-batches-bin", "binary")


@pytest.fixture(scope="session")
def cifar_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_cifar(tmp_path_factory.mktemp("cifar") / "cifar-10-batches-py", "python")
