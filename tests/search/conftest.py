"""Shared fixtures for the search tests: a tiny space (48 raw candidates); the score function the
searchers chase is ``scoring.score_of``."""

from __future__ import annotations

import pytest

from actsearch.search.space.files import space_from_dict


def tiny_space_dict() -> dict:
    return {"units": 1, "unary": ["x", "neg", "sin", "tanh"], "binary": ["add", "sub", "max"]}


@pytest.fixture
def tiny_space():
    return space_from_dict(tiny_space_dict(), name="tiny")
