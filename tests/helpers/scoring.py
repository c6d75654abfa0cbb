"""The score function the search tests replay (a module of its own: test modules import it by
name, which a ``conftest`` cannot be when several test folders are collected together)."""

from __future__ import annotations

import hashlib


def score_of(fingerprint: str) -> float:
    """A fixed pseudo-random score in [0, 1) per fingerprint: the objective the searchers chase."""
    return int(hashlib.sha256(fingerprint.encode()).hexdigest()[:8], 16) / 2**32
