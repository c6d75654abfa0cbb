"""Fixtures for the run tests: a local Ray (2 CPUs) shared by a module, and tiny search specs."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


@pytest.fixture(scope="module")
def local_ray():
    """An embedded Ray with 2 CPUs for the module's searches (they reuse it instead of starting one)."""
    from actsearch.search.infra.cluster import start_ray, stop_ray

    handle = start_ray(None, 2)
    yield handle
    stop_ray(handle)
