"""The run store, by its public names: the protocol (:class:`Store`, :class:`RunStoreError`,
:mod:`actsearch.results.base`), its two backends (:class:`SqliteStore` for a run directory,
:mod:`actsearch.results.sqlite`; :class:`MemoryStore`, :mod:`actsearch.results.memory`), the row
builders (:mod:`actsearch.results.rows`) and :func:`open_store`, which chooses a backend.

Import them from here (``from actsearch.results.store import SqliteStore``); each is defined once,
in the module named above.
"""

from __future__ import annotations

import os

from actsearch.results.base import RunStoreError, Store
from actsearch.results.memory import MemoryStore
from actsearch.results.rows import merged_row, new_row, result_columns
from actsearch.results.sqlite import SqliteStore

__all__ = ["MemoryStore", "RunStoreError", "SqliteStore", "Store", "merged_row", "new_row", "open_store",
           "result_columns"]


def open_store(run_dir: str | os.PathLike | None, readonly: bool = False) -> Store:
    """The store of ``run_dir`` (SQLite), or a fresh in-memory store when ``run_dir`` is None."""
    if run_dir is None:
        return MemoryStore()
    return SqliteStore(run_dir, readonly=readonly)
