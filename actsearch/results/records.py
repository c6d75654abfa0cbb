"""The run store's schema, its typed row (:class:`CandidateRecord`) and the upgrade of old stores.

Schema (``SCHEMA_VERSION`` 2)::

    meta(key TEXT PRIMARY KEY, value TEXT)        -- JSON values: spec, command, versions, git ...
    candidates(                                   -- one row per trial, alias or untrained candidate
        id INTEGER PRIMARY KEY,                   -- 1, 2, ... in order of storage
        trial INTEGER,                            -- the loop's trial number (1, 2 ...); NULL for
                                                  -- aliases and candidates stored untrained
        state TEXT,                               -- TrialState: pending | running | done
        expression TEXT, canonical TEXT,          -- input text; canonical text (NULL if unknown)
        fingerprint TEXT, params TEXT,            -- params: JSON name -> initial value
        alias_of INTEGER,                         -- id of the row with the same fingerprint
        reference TEXT,                           -- library name of a reference (relu ...), else NULL
        searcher TEXT, step INTEGER,              -- who proposed it and its position (0, 1, ...)
        task TEXT, settings TEXT, role TEXT,      -- task name; JSON task settings; Role: search |
                                                  -- reference | validation | confirmation
        status TEXT, score REAL, score_std REAL,  -- CandidateResult fields (Status; pending until done)
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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from actsearch.evaluators.result import Status
from actsearch.textenum import TextEnum

SCHEMA_VERSION = 2
DB_NAME = "run.sqlite"
LOCK_NAME = ".writer.lock"
REFERENCES = ("relu", "gelu", "swish")  # what a search evaluates alongside by default and a leaderboard marks
# A confirmation trains on seeds CONFIRM_SEED_BASE .. CONFIRM_SEED_BASE + N - 1: a range no search,
# rescore or validation (seeds 0 .. N - 1) uses, so its verdict is free of the search's selection.
CONFIRM_SEED_BASE = 1000


class Role(TextEnum):
    """Why a row was trained: the search itself, or a check beside it."""

    SEARCH = "search"  # proposed by a searcher (ranked)
    REFERENCE = "reference"  # a library baseline (relu ...) trained alongside a search (unranked)
    VALIDATION = "validation"  # more seeds for the best candidates (and references)
    CONFIRMATION = "confirmation"  # fresh seeds (CONFIRM_SEED_BASE ...) for the verdict


class TrialState(TextEnum):
    """Where a stored trial is in the loop."""

    PENDING = "pending"  # accepted, not yet handed to an executor
    RUNNING = "running"  # handed to an executor
    DONE = "done"  # finished (its status says how)


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
    state: TrialState
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
    role: Role
    status: Status
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
        return self.status == Status.OK

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


class RecordError(ValueError):
    """A stored row whose columns do not decode to a :class:`CandidateRecord` (named by its id)."""

    def __init__(self, row_id: Any, why: str) -> None:
        super().__init__(f"stored row id {row_id!r}: {why}")
        self.row_id = row_id


MAX_JSON_DEPTH = 64  # deepest nesting of a stored JSON value (the store writes a few levels)
# Metadata keys that readers use, with the JSON type each must have (other keys: any JSON value).
META_TYPES: dict[str, type | tuple[type, ...]] = {
    "schema_version": int, "spec": dict, "plan": dict, "task": str, "task_overrides": dict, "preset": str,
    "task_source": dict, "task_source_changes": list, "probe": dict, "confirm": dict, "timings": dict}


def json_value(text: Any) -> Any:
    """The JSON value of stored text; ValueError when it is not text, not JSON, or nested deeper
    than :data:`MAX_JSON_DEPTH` (a value a million levels deep would exhaust the stack of every
    reader)."""
    if not isinstance(text, str):
        raise ValueError("not JSON text")
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError:
        raise ValueError("not valid JSON") from None
    level, depth = [value], 0
    while level:
        depth += 1
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
        level = [v for c in level if isinstance(c, (dict, list)) for v in (c.values() if isinstance(c, dict) else c)]
    return value


def meta_value(key: str, text: Any) -> Any:
    """A stored metadata value decoded and type-checked (:data:`META_TYPES`); ValueError naming why."""
    value = json_value(text)
    kind = META_TYPES.get(key)
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError("not an integer")
    if kind is not None and not isinstance(value, kind):
        raise ValueError(f"not a JSON {'object' if kind is dict else 'list' if kind is list else 'string'}")
    return value


_TEXT = ("expression", "fingerprint", "task", "role", "status", "state", "created_at")  # TEXT NOT NULL
_OPTIONAL_TEXT = ("canonical", "searcher", "error", "reference")
_OPTIONAL_INT = ("alias_of", "step", "trial")
_ENUMS: dict[str, type[TextEnum]] = {"role": Role, "status": Status, "state": TrialState}  # TEXT parsed


def _loads(row_id: Any, key: str, text: Any, kind: type, empty: Any) -> Any:
    if text is None or text == "":
        return empty
    if not isinstance(text, str):
        raise RecordError(row_id, f"{key} is not JSON text")
    try:
        value = json_value(text)
    except ValueError as err:
        raise RecordError(row_id, f"{key} is {err}") from None
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


def decode(row: dict[str, Any], where: str = "the run store") -> CandidateRecord:
    """The record of one stored row; :class:`RecordError` when a column is not what the schema says
    (a crafted or damaged store), so readers can skip that row and show the rest."""
    row = dict(row)
    row_id = row.get("id")
    if not _is_int(row_id):
        raise RecordError(row_id, "id is not an integer")
    for key in _TEXT:
        if not isinstance(row.get(key), str):
            raise RecordError(row_id, f"{key} is not text")
    for key in _OPTIONAL_TEXT:
        if row.get(key) is not None and not isinstance(row[key], str):
            raise RecordError(row_id, f"{key} is not text")
    for key, kind in _ENUMS.items():
        try:
            row[key] = kind(row[key])
        except ValueError:
            raise RecordError(row_id, f"{key} is not one of {', '.join(kind.values())}") from None
    for key in _OPTIONAL_INT:
        if row.get(key) is not None and not _is_int(row[key]):
            raise RecordError(row_id, f"{key} is not an integer")
    params = _loads(row_id, "params", row.get("params"), dict, {})
    if not all(isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
               and math.isfinite(v) for k, v in params.items()):
        raise RecordError(row_id, "params is not a map of names to finite numbers")
    row["params"] = {k: float(v) for k, v in params.items()}
    row["settings"] = _loads(row_id, "settings", row.get("settings"), dict, {})
    row["seeds"] = _loads(row_id, "seeds", row.get("seeds"), list, [])
    if not all(_is_int(s) for s in row["seeds"]):
        raise RecordError(row_id, "seeds is not a list of integers")
    row["runs"] = _loads(row_id, "runs", row.get("runs"), list, [])
    if not all(isinstance(r, dict) for r in row["runs"]):
        raise RecordError(row_id, "runs is not a list of objects")
    for run in row["runs"]:
        if not isinstance(run.get("metrics", {}), dict):  # a seed's metrics that are not an object: dropped
            warn_once(f"ignoring the metrics of a seed of stored row id {row_id!r} ({where}): not a JSON object")
            run["metrics"] = {}
    row["metrics"] = _loads(row_id, "metrics", row.get("metrics"), dict, {})
    for key in ("score", "score_std", "wall_s"):
        row[key] = _real(row_id, key, row.get(key))
    retries = row.get("retries") or 0
    if not _is_int(retries):
        raise RecordError(row_id, "retries is not an integer")
    row["retries"] = retries
    missing = [k for k in COLUMNS if k not in row]
    if missing:
        raise RecordError(row_id, f"the column {missing[0]} is missing")
    # a column the schema does not have (a store written by a newer version, or crafted): kept aside
    extra = {k: row.pop(k) for k in [k for k in row if k not in COLUMNS]}
    return CandidateRecord(**row, extra=extra)


_warned: set[str] = set()


def warn_once(message: str) -> None:
    """``warning: MESSAGE`` on stderr, once per process: a damaged part is named, the rest still shown."""
    import sys

    if message not in _warned:
        _warned.add(message)
        print(f"warning: {message}", file=sys.stderr)


def warn_skipped(where: str, err: RecordError) -> None:
    """One line on stderr per bad row (once per process and store): the rest is still shown."""
    warn_once(f"skipping {err} ({where})")


def decode_all(rows: Sequence[dict[str, Any]], where: str) -> list[CandidateRecord]:
    """Decode rows, skipping (with one stderr line each) a row that cannot be decoded."""
    out = []
    for row in rows:
        try:
            out.append(decode(row, where))
        except RecordError as err:  # a damaged or crafted row: the others still count
            warn_skipped(where, err)
    return out


# -- schema 1 ---------------------------------------------------------------------------------------
def split_label(label: str) -> tuple[str, dict[str, Any]]:
    """``"digits[steps=50]"`` → ``("digits", {"steps": 50})`` (values typed like ``--set``)."""
    from actsearch.evaluators.settings import parse_value

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
    if reference is None and row.get("role") == Role.VALIDATION and row.get("expression") in _library_names():
        reference = row["expression"]
    if reference is not None:
        out["fingerprint"] = _reference_fingerprint(reference)
    task, settings = split_label(str(row.get("task") or ""))
    out.update(trial=trial, state=TrialState.DONE, reference=reference, task=task, settings=settings_key(settings))
    return out


def _library_names() -> tuple[str, ...]:
    from actsearch.grammar.library import NAMES

    return tuple(NAMES)


def pending_v1(row: tuple[str, str, str, str], trial: int, step: int | None) -> dict[str, Any]:
    """A schema-1 ``pending`` row (trial_id, role, task, proposal JSON) as a schema-2 pending row."""
    _, role, label, proposal = row
    p = json_value(proposal)
    task, settings = split_label(label)
    metrics = {k: p[k] for k in ("predicted", "predicted_spread") if k in p}
    return {"trial": trial, "state": TrialState.PENDING, "expression": p["expression"], "canonical": None,
            "fingerprint": p["fingerprint"], "params": to_json(p.get("params") or {}), "alias_of": None,
            "reference": None, "searcher": None, "step": step, "task": task, "settings": settings_key(settings),
            "role": role, "status": Status.PENDING, "score": None, "score_std": None, "seeds": "[]", "runs": "[]",
            "metrics": to_json(metrics), "wall_s": None, "error": None, "retries": 0, "created_at": now()}


def v1_step(trial_id: str | None) -> int | None:
    """The searcher position a schema-1 trial id (``t000042``) carried."""
    if trial_id and trial_id[:1] == "t" and trial_id[1:].isdigit():
        return int(trial_id[1:])
    return None
