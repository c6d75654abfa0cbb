"""The run store's schema, its typed row (:class:`CandidateRecord`) and the upgrade of old stores.

Schema (``SCHEMA_VERSION`` 2)::

    meta(key TEXT PRIMARY KEY, value TEXT)        -- JSON values: spec, command, versions, git ...
    candidates(                                   -- one row per trial, alias or untrained candidate
        id INTEGER PRIMARY KEY,                   -- 1, 2, ... in order of storage
        trial INTEGER,                            -- the loop's trial number (1, 2 ...); NULL for
                                                  -- aliases and candidates stored untrained
        state TEXT,                               -- "pending" | "running" | "done"
        expression TEXT, canonical TEXT,          -- input text; canonical text (NULL if unknown)
        fingerprint TEXT, params TEXT,            -- params: JSON name -> initial value
        alias_of INTEGER,                         -- id of the row with the same fingerprint
        reference TEXT,                           -- library name of a reference (relu ...), else NULL
        searcher TEXT, step INTEGER,              -- who proposed it and its position (0, 1, ...)
        task TEXT, settings TEXT, role TEXT,      -- task name; JSON task settings; search |
                                                  -- reference | validation
        status TEXT, score REAL, score_std REAL,  -- CandidateResult fields ("pending" until done)
        seeds TEXT, runs TEXT, metrics TEXT,      -- JSON: [seed...], [EvalResult dict...], {...}
        wall_s REAL, error TEXT, retries INTEGER, -- retries: worker failures the executor retried
        created_at TEXT)                          -- ISO 8601 UTC
    state(name TEXT PRIMARY KEY, value TEXT,      -- searcher checkpoints (JSON) for resume
        updated_at TEXT)

Schema 1 (references as the fingerprint ``library:NAME``, task settings inside the task label
``name[k=v]``, a separate ``pending`` table) is upgraded row by row by :func:`upgrade_v1`: on
open for writing the store is migrated once; a read-only reader upgrades the rows it reads.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 2
DB_NAME = "run.sqlite"
LOCK_NAME = ".writer.lock"
STOPPED = "stopped"  # stopped early by a scheduler (ASHA); score is the last reported one
PENDING_STATUS = "pending"  # the status of a trial row that has no result yet
ROLES = ("search", "reference", "validation")
REFERENCES = ("relu", "swish")  # the library functions a search evaluates alongside and a leaderboard marks
SEARCH, REFERENCE, VALIDATION = ROLES
TRIAL_STATES = ("pending", "running", "done")
PENDING, RUNNING, DONE = TRIAL_STATES
COLUMNS = ("id", "trial", "state", "expression", "canonical", "fingerprint", "params", "alias_of", "reference",
           "searcher", "step", "task", "settings", "role", "status", "score", "score_std", "seeds", "runs",
           "metrics", "wall_s", "error", "retries", "created_at")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS candidates (
    id INTEGER PRIMARY KEY, trial INTEGER, state TEXT NOT NULL DEFAULT 'done', expression TEXT NOT NULL,
    canonical TEXT, fingerprint TEXT NOT NULL, params TEXT, alias_of INTEGER REFERENCES candidates(id),
    reference TEXT, searcher TEXT, step INTEGER, task TEXT NOT NULL, settings TEXT NOT NULL DEFAULT '{}',
    role TEXT NOT NULL, status TEXT NOT NULL, score REAL, score_std REAL, seeds TEXT, runs TEXT,
    metrics TEXT, wall_s REAL, error TEXT, retries INTEGER DEFAULT 0, created_at TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS candidates_once
    ON candidates(task, settings, role, fingerprint, IFNULL(reference, '')) WHERE alias_of IS NULL;
CREATE INDEX IF NOT EXISTS candidates_by_task ON candidates(task, settings, role, score);
CREATE INDEX IF NOT EXISTS candidates_by_state ON candidates(state) WHERE state != 'done';
CREATE INDEX IF NOT EXISTS candidates_by_alias ON candidates(alias_of) WHERE alias_of IS NOT NULL;
CREATE TABLE IF NOT EXISTS state (name TEXT PRIMARY KEY, value TEXT, updated_at TEXT);
"""


def task_label(name: str, settings: dict[str, Any] | None) -> str:
    """The display name of a task with settings: ``name`` or ``name[k=v,...]`` (sorted keys)."""
    if not settings:
        return name
    return name + "[" + ",".join(f"{k}={v}" for k, v in sorted(settings.items())) + "]"


def settings_key(settings: dict[str, Any] | None) -> str:
    """The stored (canonical JSON) form of task settings: equal settings give equal text."""
    return json.dumps(dict(settings or {}), sort_keys=True, default=str)


@dataclass
class CandidateRecord:
    """One stored row, decoded (JSON columns become Python objects)."""

    id: int
    trial: int | None
    state: str
    expression: str
    canonical: str | None
    fingerprint: str
    params: dict[str, float]
    alias_of: int | None
    reference: str | None
    searcher: str | None
    step: int | None
    task: str
    settings: dict[str, Any]
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

    @property
    def trained(self) -> bool:
        """A trial (counted in the budget): not an alias, not a candidate stored untrained."""
        return self.trial is not None and self.alias_of is None

    @property
    def task_label(self) -> str:
        return task_label(self.task, self.settings)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "extra"}


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def to_json(obj: Any) -> str:
    return json.dumps(obj, default=str, allow_nan=True)


def num(value: Any) -> float | None:
    """A float for SQLite; NaN is stored as NULL (SQLite has no NaN)."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def decode(row: dict[str, Any]) -> CandidateRecord:
    """A stored row (column -> SQLite value) as a record; raises ValueError/TypeError on bad data."""
    row = dict(row)
    for key, empty in (("params", {}), ("seeds", []), ("runs", []), ("metrics", {}), ("settings", {})):
        row[key] = json.loads(row[key]) if row[key] else empty
    for key in ("score", "score_std", "wall_s"):
        row[key] = float("nan") if row[key] is None else float(row[key])
    row["retries"] = int(row["retries"] or 0)
    if not isinstance(row["params"], dict) or not isinstance(row["metrics"], dict):
        raise ValueError("params and metrics must be JSON objects")
    return CandidateRecord(**row)


def decode_all(rows: Sequence[dict[str, Any]], where: str) -> list[CandidateRecord]:
    """Decode rows, skipping (with one warning each) a row that cannot be decoded."""
    out = []
    for row in rows:
        try:
            out.append(decode(row))
        except (ValueError, TypeError, KeyError) as err:
            warnings.warn(f"skipped unreadable row {row.get('id')} of {where}: {err}", stacklevel=3)
    return out


# -- schema 1 ---------------------------------------------------------------------------------------
def split_label(label: str) -> tuple[str, dict[str, Any]]:
    """``"digits[steps=50]"`` → ``("digits", {"steps": 50})`` (values typed like ``--set``)."""
    from actsearch.settings import parse_value

    if not label.endswith("]") or "[" not in label:
        return label, {}
    name, _, inner = label[:-1].partition("[")
    settings: dict[str, Any] = {}
    for item in inner.split(","):
        key, sep, text = item.partition("=")
        if not sep:
            return label, {}
        settings[key.strip()] = parse_value(text.strip())
    return name, settings


def _reference_fingerprint(name: str) -> str:
    try:
        from actsearch.grammar.library import resolve

        return resolve(name).fingerprint
    except Exception:  # noqa: BLE001 - module-only, or a name the grammar no longer knows: its old form
        return f"library:{name}"


def upgrade_v1(row: dict[str, Any], trial: int | None) -> dict[str, Any]:
    """A schema-1 ``candidates`` row as a schema-2 row (``trial``: its new trial number or None)."""
    out = {k: row.get(k) for k in COLUMNS if k in row}
    out.pop("trial_id", None)
    fp = str(row.get("fingerprint") or "")
    reference = fp.split(":", 1)[1] if fp.startswith("library:") else None
    if reference is None and row.get("role") == "validation" and row.get("expression") in _library_names():
        reference = row["expression"]
    if reference is not None:
        out["fingerprint"] = _reference_fingerprint(reference)
    task, settings = split_label(str(row.get("task") or ""))
    out.update(trial=trial, state=DONE, reference=reference, task=task, settings=settings_key(settings))
    return out


def _library_names() -> tuple[str, ...]:
    from actsearch.grammar.library import NAMES

    return tuple(NAMES)


def pending_v1(row: tuple[str, str, str, str], trial: int, step: int | None) -> dict[str, Any]:
    """A schema-1 ``pending`` row (trial_id, role, task, proposal JSON) as a schema-2 pending row."""
    _, role, label, proposal = row
    p = json.loads(proposal)
    task, settings = split_label(label)
    metrics = {k: p[k] for k in ("predicted", "predicted_spread") if k in p}
    return {"trial": trial, "state": PENDING, "expression": p["expression"], "canonical": None,
            "fingerprint": p["fingerprint"], "params": to_json(p.get("params") or {}), "alias_of": None,
            "reference": None, "searcher": None, "step": step, "task": task, "settings": settings_key(settings),
            "role": role, "status": PENDING_STATUS, "score": None, "score_std": None, "seeds": "[]", "runs": "[]",
            "metrics": to_json(metrics), "wall_s": None, "error": None, "retries": 0, "created_at": now()}


def v1_step(trial_id: str | None) -> int | None:
    """The searcher position a schema-1 trial id (``t000042``) carried."""
    if trial_id and trial_id[:1] == "t" and trial_id[1:].isdigit():
        return int(trial_id[1:])
    return None
