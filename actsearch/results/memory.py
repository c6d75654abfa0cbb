"""The in-memory backend of the store protocol: for the Python API (``run_search(run_dir=None)``),
tests and replays. Rows are kept in their stored (encoded) form, so decoding, uniqueness and the
result-merging rules are those of :class:`~actsearch.results.sqlite.SqliteStore`; nothing survives
the process.
"""

from __future__ import annotations

import json
from typing import Any

from actsearch.results import records as R
from actsearch.results.base import RunStoreError, Store


class MemoryStore(Store):
    """A run store held in this process's memory (same protocol as the SQLite one)."""

    def __init__(self) -> None:
        self._meta: dict[str, str] = {"schema_version": str(R.SCHEMA_VERSION)}
        self._state: dict[str, str] = {}
        self._data: dict[int, dict[str, Any]] = {}
        self._unique: dict[tuple, int] = {}
        self._next = 1
        self._aliases: dict[int, list[int]] = {}  # row id -> ids of the rows aliasing it
        self._undo: list[Any] | None = None

    # -- transactions (the nesting is the base's): an undo log, O(writes), not O(run) -------------------
    def _begin(self) -> None:
        self._undo = []

    def _commit(self) -> None:
        self._undo = None

    def _rollback(self) -> None:
        for undo in reversed(self._undo or []):
            undo()
        self._undo = None

    def _log(self, undo: Any) -> None:
        if self._undo is not None:
            self._undo.append(undo)

    def _put(self, table: dict, key: Any, value: Any) -> None:
        missing = object()
        old = table.get(key, missing)
        self._log(lambda: table.pop(key, None) if old is missing else table.__setitem__(key, old))
        table[key] = value

    def init_run(self, meta: dict[str, Any]) -> None:
        with self.transaction():
            for k, v in meta.items():
                self._put(self._meta, k, R.to_json(v))

    def meta(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self._meta.items()}

    def save_state(self, name: str, state: dict[str, Any]) -> None:
        with self.transaction():
            self._put(self._state, name, R.to_json(state))

    def load_state(self, name: str) -> dict[str, Any] | None:
        return None if name not in self._state else json.loads(self._state[name])

    @staticmethod
    def _key(row: dict[str, Any]) -> tuple | None:
        if row.get("alias_of") is not None:
            return None
        return (row["task"], row["settings"], row["role"], row["fingerprint"], row.get("reference") or "")

    def _insert(self, row: dict[str, Any]) -> int:
        key = self._key(row)
        if key is not None and key in self._unique:
            raise RunStoreError(f"{row['expression']!r} ({row['fingerprint']}) is already stored for "
                                f"{R.task_label(row['task'], json.loads(row['settings']))}/{row['role']}")
        row_id = int(row.get("id") or self._next)
        with self.transaction():
            self._next = max(self._next, row_id) + 1
            self._put(self._data, row_id, {"id": row_id, **{k: v for k, v in row.items() if k != "id"}})
            if key is not None:
                self._put(self._unique, key, row_id)
            else:
                self._put(self._aliases, row["alias_of"], [*self._aliases.get(row["alias_of"], []), row_id])
        return row_id

    def _update(self, row_id: int, cols: dict[str, Any], *, aliases: bool = False) -> None:
        ids = self._aliases.get(row_id, []) if aliases else [row_id] if row_id in self._data else []
        with self.transaction():
            for i in ids:
                self._put(self._data, i, {**self._data[i], **cols})

    def _rows(self, **filters: Any) -> list[dict[str, Any]]:
        keys = [(k, v) for k, v in filters.items() if v is not None]
        if ("id", filters.get("id")) in keys:
            found = self._data.get(filters["id"])
            return [dict(found)] if found is not None else []
        return [dict(r) for r in self._data.values() if all(r.get(k) == v for k, v in keys)]

    def last_trial(self) -> int:
        return max((r["trial"] or 0 for r in self._data.values()), default=0)

    def close(self) -> None:
        pass
