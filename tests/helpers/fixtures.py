"""Fixtures more than one test directory uses; a directory's ``conftest.py`` imports the ones it needs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.stores import fill


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated run store (read-only use: tests that write make their own copy)."""
    return fill(tmp_path_factory.mktemp("results") / "run")


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Generated data sets go to a temporary cache, never the user's."""
    mp = pytest.MonkeyPatch()
    mp.setenv("ACTSEARCH_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()
