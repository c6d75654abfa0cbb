"""The run store's schema and its decoded row, :class:`CandidateRecord` (see :mod:`.store`).

Schema (``SCHEMA_VERSION`` 1)::

    meta(key TEXT PRIMARY KEY, value TEXT)        -- JSON values: command, space, task, searcher,
                                                  -- seed, budget, seeds, versions, git, created_at
    candidates(                                   -- one row per evaluated (or aliased) candidate
        id INTEGER PRIMARY KEY,                   -- 1, 2, ... in order of storage
        trial_id TEXT,                            -- the searcher's id ("t000042"), "ref:NAME" for a
                                                  -- reference; NULL for aliases and for candidates
                                                  -- stored without training (invalid)
        expression TEXT, canonical TEXT,          -- input text; canonical text (NULL if unknown)
        fingerprint TEXT, params TEXT,            -- params: JSON name -> initial value
        alias_of INTEGER,                         -- id of the evaluated row with the same
                                                  -- fingerprint; NULL for evaluated rows
        searcher TEXT, step INTEGER,              -- who proposed it and its position (0, 1, ...)
        task TEXT, role TEXT,                     -- role: "search" | "reference" | "validation"
        status TEXT, score REAL, score_std REAL,  -- CandidateResult fields; status also "stopped"
        seeds TEXT, runs TEXT, metrics TEXT,      -- JSON: [seed...], [EvalResult dict...], {...}
        wall_s REAL, error TEXT, retries INTEGER, -- retries: worker failures Ray Tune retried
        created_at TEXT)                          -- ISO 8601 UTC
    pending(trial_id TEXT, role TEXT, task TEXT,  -- proposals handed out but not yet stored;
        proposal TEXT)                            -- JSON; a resumed run evaluates them first
    state(name TEXT PRIMARY KEY, value TEXT,      -- searcher snapshots (JSON) for resume
        updated_at TEXT)
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1
DB_NAME = "run.sqlite"
LOCK_NAME = ".writer.lock"
STOPPED = "stopped"  # stopped early by a scheduler (ASHA); score is the last reported one
ROLES = ("search", "reference", "validation")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS candidates (
    id INTEGER PRIMARY KEY, trial_id TEXT, expression TEXT NOT NULL, canonical TEXT,
    fingerprint TEXT NOT NULL, params TEXT, alias_of INTEGER REFERENCES candidates(id),
    searcher TEXT, step INTEGER, task TEXT NOT NULL, role TEXT NOT NULL, status TEXT NOT NULL,
    score REAL, score_std REAL, seeds TEXT, runs TEXT, metrics TEXT, wall_s REAL, error TEXT,
    retries INTEGER DEFAULT 0, created_at TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS candidates_once ON candidates(task, role, fingerprint)
    WHERE alias_of IS NULL;
CREATE INDEX IF NOT EXISTS candidates_by_task ON candidates(task, role, score);
CREATE TABLE IF NOT EXISTS pending (
    trial_id TEXT NOT NULL, role TEXT NOT NULL, task TEXT NOT NULL, proposal TEXT NOT NULL,
    PRIMARY KEY (role, task, trial_id));
CREATE TABLE IF NOT EXISTS state (name TEXT PRIMARY KEY, value TEXT, updated_at TEXT);
"""


@dataclass
class CandidateRecord:
    """One stored row, decoded (JSON columns become Python objects)."""

    id: int
    trial_id: str | None
    expression: str
    canonical: str | None
    fingerprint: str
    params: dict[str, float]
    alias_of: int | None
    searcher: str | None
    step: int | None
    task: str
    role: str
    status: str
    score: float
    score_std: float
    seeds: list[int]
    runs: list[dict[str, Any]]
    metrics: dict[str, Any]
    wall_s: float
    error: str | None
    retries: int
    created_at: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "extra"}


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def _json(obj: Any) -> str:
    return json.dumps(obj, default=str, allow_nan=True)


def _num(value: Any) -> float | None:
    """A float for SQLite; NaN is stored as NULL (SQLite has no NaN)."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _where(sql: str, extra: Sequence[str] = (), **filters: str | None) -> tuple[str, tuple]:
    keys = [k for k, v in filters.items() if v is not None]
    clauses = [f"{k} = ?" for k in keys] + list(extra)
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    return sql, tuple(filters[k] for k in keys)


def _insert(row: dict[str, Any]) -> str:
    return f"INSERT INTO candidates ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})"


class RecordError(ValueError):
    """A stored row whose columns do not decode to a :class:`CandidateRecord` (named by its id)."""

    def __init__(self, row_id: Any, why: str) -> None:
        super().__init__(f"stored row id {row_id!r}: {why}")
        self.row_id = row_id


_TEXT = ("expression", "fingerprint", "task", "role", "status", "created_at")  # TEXT NOT NULL
_OPTIONAL_TEXT = ("trial_id", "canonical", "searcher", "error")
_OPTIONAL_INT = ("alias_of", "step")


def _loads(row_id: Any, key: str, text: Any, kind: type, empty: Any) -> Any:
    if text is None or text == "":
        return empty
    if not isinstance(text, str):
        raise RecordError(row_id, f"{key} is not JSON text")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise RecordError(row_id, f"{key} is not valid JSON") from None
    if not isinstance(value, kind):
        raise RecordError(row_id, f"{key} is not a JSON {'object' if kind is dict else 'list'}")
    return value


def _real(row_id: Any, key: str, value: Any) -> float:
    if value is None:
        return float("nan")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RecordError(row_id, f"{key} is not a number")
    return float(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _decode(row: dict[str, Any]) -> CandidateRecord:
    """The record of one stored row; :class:`RecordError` when a column is not what the schema says
    (a crafted or damaged store), so readers can skip that row and show the rest."""
    row_id = row.get("id")
    if not _is_int(row_id):
        raise RecordError(row_id, "id is not an integer")
    for key in _TEXT:
        if not isinstance(row.get(key), str):
            raise RecordError(row_id, f"{key} is not text")
    for key in _OPTIONAL_TEXT:
        if row.get(key) is not None and not isinstance(row[key], str):
            raise RecordError(row_id, f"{key} is not text")
    for key in _OPTIONAL_INT:
        if row.get(key) is not None and not _is_int(row[key]):
            raise RecordError(row_id, f"{key} is not an integer")
    params = _loads(row_id, "params", row.get("params"), dict, {})
    if not all(isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
               and math.isfinite(v) for k, v in params.items()):
        raise RecordError(row_id, "params is not a map of names to finite numbers")
    row["params"] = {k: float(v) for k, v in params.items()}
    row["seeds"] = _loads(row_id, "seeds", row.get("seeds"), list, [])
    if not all(_is_int(s) for s in row["seeds"]):
        raise RecordError(row_id, "seeds is not a list of integers")
    row["runs"] = _loads(row_id, "runs", row.get("runs"), list, [])
    if not all(isinstance(r, dict) for r in row["runs"]):
        raise RecordError(row_id, "runs is not a list of objects")
    row["metrics"] = _loads(row_id, "metrics", row.get("metrics"), dict, {})
    for key in ("score", "score_std", "wall_s"):
        row[key] = _real(row_id, key, row.get(key))
    retries = row.get("retries") or 0
    if not _is_int(retries):
        raise RecordError(row_id, "retries is not an integer")
    row["retries"] = retries
    try:
        return CandidateRecord(**row)
    except TypeError:  # a column the schema does not have, or one missing
        raise RecordError(row_id, "columns do not match the schema") from None


_warned: set[tuple[str, Any]] = set()


def warn_skipped(where: str, err: RecordError) -> None:
    """One line on stderr per bad row (once per process and store): the rest is still shown."""
    import sys

    if (where, err.row_id) not in _warned:
        _warned.add((where, err.row_id))
        print(f"warning: skipping {err} in {where}", file=sys.stderr)
