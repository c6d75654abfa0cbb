"""Fixtures of the results tests: a generated run store (see ``storefactory.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from storefactory import fill


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated run (read-only use: tests that write make their own copy)."""
    return fill(tmp_path_factory.mktemp("results") / "run")
