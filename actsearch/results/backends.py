"""Choosing a store backend: SQLite for a run directory, memory when there is none."""

from __future__ import annotations

import os

from actsearch.results.memory import MemoryStore
from actsearch.results.store import SqliteStore, Store


def open_store(run_dir: str | os.PathLike | None, readonly: bool = False) -> Store:
    """The store of ``run_dir`` (SQLite), or a fresh in-memory store when ``run_dir`` is None."""
    if run_dir is None:
        return MemoryStore()
    return SqliteStore(run_dir, readonly=readonly)
