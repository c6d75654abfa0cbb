"""Shared fixtures for the search tests: a tiny space (48 raw candidates) and a score function."""

from __future__ import annotations

import hashlib

import pytest

from actsearch.search.space import space_from_dict


def tiny_space_dict() -> dict:
    return {"units": 1, "unary": ["x", "neg", "sin", "tanh"], "binary": ["add", "sub", "max"]}


@pytest.fixture
def tiny_space():
    return space_from_dict(tiny_space_dict(), name="tiny")


def score_of(fingerprint: str) -> float:
    """A fixed pseudo-random score in [0, 1) per fingerprint: the objective the searchers chase."""
    return int(hashlib.sha256(fingerprint.encode()).hexdigest()[:8], 16) / 2**32
