"""The store protocol of a run, and its SQLite backend (the run directory).

:class:`Store` is what the search loop writes through and every reader reads: run metadata,
searcher checkpoints, and one row per trial / alias / untrained candidate
(:class:`~actsearch.results.records.CandidateRecord`). A trial row is added ``pending`` when the
loop accepts a proposal, marked ``running`` when an executor takes it, and ``done`` with its
result — each one O(1) write. Two backends implement it alike (``tests/runs/test_store.py`` runs
the same tests on both): :class:`SqliteStore` here and :class:`~actsearch.results.memory.MemoryStore`.

``RUN_DIR/run.sqlite`` is written by one writer (guarded by ``RUN_DIR/.writer.lock``) and read by
anyone: readers open it read-only (``mode=ro``) and the database runs in WAL mode, so a reader never
blocks the writer nor sees a half-written row. Every write is one transaction: a crash, a read-only
directory or a full disk raise :class:`RunStoreError` (a :class:`~actsearch.errors.UserError`) and
lose nothing already stored. A schema-1 store is migrated when opened for writing and read as it
is when opened read-only (:mod:`actsearch.results.records`). A row that cannot be decoded is
skipped with a warning.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from actsearch.errors import UserError
from actsearch.evaluators.result import INVALID, CandidateResult, EvalResult
from actsearch.results import records as R
from actsearch.results.records import DONE, PENDING, RUNNING, CandidateRecord


class RunStoreError(UserError):
    """The run store cannot be read or written (missing, read-only, full, locked, foreign)."""


def merged_row(old: CandidateRecord, result: CandidateResult, seeds: Sequence[int]) -> dict[str, Any]:
    """The columns to update when ``result`` (for ``seeds``) adds runs to the stored ``old`` row:
    seeds already stored are ignored; status, score and std are recomputed, numeric metrics are
    averaged weighted by seeds."""
    have = list(old.seeds)
    runs = [EvalResult.from_dict(r) for r in old.runs]
    for seed, run in zip(seeds, result.runs, strict=False):
        if seed not in have:
            have.append(int(seed))
            runs.append(run)
    metrics = dict(old.metrics)
    n_old = len(old.seeds)
    for key, value in result.metrics.items():
        prev = metrics.get(key)
        if isinstance(value, (int, float)) and isinstance(prev, (int, float)) and len(have) > n_old:
            metrics[key] = (prev * n_old + value * (len(have) - n_old)) / len(have)
        else:
            metrics.setdefault(key, value)
    merged = CandidateResult.from_runs(runs, metrics)
    return {"status": old.status if old.status == R.STOPPED else merged.status, "score": R.num(merged.score),
            "score_std": R.num(merged.score_std), "seeds": R.to_json(have), "metrics": R.to_json(merged.metrics),
            "wall_s": R.num(merged.wall_s), "error": merged.error,
            "runs": R.to_json([r.to_dict() for r in runs])}


def result_columns(result: CandidateResult, *, status: str | None = None, canonical: str | None = None,
                   retries: int = 0, metrics: dict[str, Any] | None = None) -> dict[str, Any]:
    """The columns a finished trial's ``result`` sets (``metrics`` are merged under the result's)."""
    res = result.to_dict()
    cols = {"state": DONE, "status": status or res["status"], "score": R.num(res["score"]),
            "score_std": R.num(res["score_std"]), "runs": R.to_json(res["runs"]),
            "metrics": R.to_json({**(metrics or {}), **res["metrics"]}), "wall_s": R.num(res["wall_s"]),
            "error": res["error"], "retries": int(retries)}
    if canonical is not None:
        cols["canonical"] = canonical
    return cols


def new_row(expression: str, fingerprint: str, *, task: str, role: str = R.SEARCH,
            settings: dict[str, Any] | None = None, trial: int | None = None, state: str = PENDING,
            canonical: str | None = None, params: dict[str, float] | None = None, reference: str | None = None,
            searcher: str | None = None, step: int | None = None, seeds: Sequence[int] = (),
            metrics: dict[str, Any] | None = None, alias_of: int | None = None) -> dict[str, Any]:
    """A row without a result (status ``pending``), in stored (encoded) form."""
    if role not in R.ROLES:
        raise ValueError(f"role must be one of {R.ROLES}, got {role!r}")
    return {"trial": trial, "state": state, "expression": expression, "canonical": canonical,
            "fingerprint": fingerprint, "params": R.to_json(params or {}), "alias_of": alias_of,
            "reference": reference, "searcher": searcher, "step": step, "task": task,
            "settings": R.settings_key(settings), "role": role, "status": R.PENDING_STATUS, "score": None,
            "score_std": None, "seeds": R.to_json([int(s) for s in seeds]), "runs": "[]",
            "metrics": R.to_json(metrics or {}), "wall_s": None, "error": None, "retries": 0,
            "created_at": R.now()}


class Store(ABC):
    """The run store protocol (see the module docstring); both backends implement it alike."""

    readonly: bool = False

    # -- primitives each backend implements ---------------------------------------------------------
    @abstractmethod
    def transaction(self) -> contextlib.AbstractContextManager[Store]:
        """Group writes: all are stored or none (nesting joins the outermost)."""

    @abstractmethod
    def init_run(self, meta: dict[str, Any]) -> None:
        """Store run metadata (keys already present are overwritten)."""

    @abstractmethod
    def meta(self) -> dict[str, Any]:
        """All metadata (``schema_version`` included)."""

    @abstractmethod
    def save_state(self, name: str, state: dict[str, Any]) -> None:
        """Store a searcher checkpoint (JSON-serialisable) under ``name``."""

    @abstractmethod
    def load_state(self, name: str) -> dict[str, Any] | None:
        """The last checkpoint stored under ``name``, or None."""

    @abstractmethod
    def _insert(self, row: dict[str, Any]) -> int:
        """Insert an encoded row; a second non-alias row for the same key raises RunStoreError."""

    @abstractmethod
    def _update(self, row_id: int, cols: dict[str, Any], *, aliases: bool = False) -> None:
        """Set columns of one row (``aliases``: and of the rows aliasing it)."""

    @abstractmethod
    def _rows(self, **filters: Any) -> list[dict[str, Any]]:
        """Encoded rows in id order; filters: task, settings (key), role, state, id, alias_of."""

    @abstractmethod
    def close(self) -> None:
        """Release the store (and the writer lock)."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writes ------------------------------------------------------------------------------------
    def add_trial(self, expression: str, fingerprint: str, **kw: Any) -> int:
        """A trial accepted by the loop (state ``pending``, no result yet); returns its row id."""
        with self.transaction():
            return self._insert(new_row(expression, fingerprint, **kw))

    def set_running(self, row_id: int) -> None:
        """The trial was handed to an executor."""
        with self.transaction():
            self._update(row_id, {"state": RUNNING})

    def finish(self, row_id: int, result: CandidateResult, *, status: str | None = None,
               canonical: str | None = None, retries: int = 0) -> None:
        """Store a trial's result (its aliases copy it); the row becomes ``done``."""
        with self.transaction():
            old = self.record_by_id(row_id)
            cols = result_columns(result, status=status, canonical=canonical, retries=retries, metrics=old.metrics)
            self._update(row_id, cols)
            self._update(row_id, {k: v for k, v in cols.items() if k not in ("runs", "canonical")}, aliases=True)

    def record(self, expression: str, fingerprint: str, result: CandidateResult, *, task: str,
               role: str = R.SEARCH, trial: int | None = None, status: str | None = None, retries: int = 0,
               aliases: Sequence[str] = (), state: tuple[str, dict[str, Any]] | None = None, **kw: Any) -> int:
        """A finished row (+ alias rows, + optionally a checkpoint) in one transaction."""
        with self.transaction():
            row = new_row(expression, fingerprint, task=task, role=role, trial=trial, state=DONE, **kw)
            row.update(result_columns(result, status=status, canonical=kw.get("canonical"), retries=retries))
            row_id = self._insert(row)
            for alias in aliases:
                self._insert({**row, "trial": None, "expression": alias, "canonical": None, "alias_of": row_id,
                              "runs": "[]"})
            if state is not None:
                self.save_state(*state)
        return row_id

    def record_invalid(self, expression: str, fingerprint: str, reason: str, *, task: str,
                       role: str = R.SEARCH, **kw: Any) -> int:
        """A candidate rejected before training (trivial, unparsable, pre-screened) as ``invalid``."""
        result = CandidateResult(status=INVALID, score=0.0, score_std=0.0, error=reason)
        return self.record(expression, fingerprint, result, task=task, role=role, **kw)

    def record_alias(self, expression: str, alias_of: int) -> int:
        """One more alias row of the stored row ``alias_of`` (copies its result, pending ones too)."""
        with self.transaction():
            src = self._rows(id=alias_of)
            if not src:
                raise RunStoreError(f"no stored candidate with id {alias_of}")
            row = {k: v for k, v in src[0].items() if k != "id"}
            row.update(trial=None, expression=expression, canonical=None, alias_of=alias_of, runs="[]",
                       created_at=R.now())
            return self._insert(row)

    def add_runs(self, row_id: int, result: CandidateResult, seeds: Sequence[int]) -> CandidateRecord:
        """Re-score the stored row ``row_id`` with more seeds: merge ``result``'s runs into it and its
        aliases, recomputing status, score and std — one transaction. Returns the new row."""
        with self.transaction():
            cols = merged_row(self.record_by_id(row_id), result, seeds)
            self._update(row_id, cols)
            self._update(row_id, {k: v for k, v in cols.items() if k != "runs"}, aliases=True)
            return self.record_by_id(row_id)

    # -- reads -------------------------------------------------------------------------------------
    def record_by_id(self, row_id: int) -> CandidateRecord:
        rows = R.decode_all(self._rows(id=row_id), "the run store")
        if not rows:
            raise RunStoreError(f"no stored candidate with id {row_id}")
        return rows[0]

    def candidates(self, task: str | None = None, role: str | None = None, include_failed: bool = True,
                   include_aliases: bool = True, settings: dict[str, Any] | None = None,
                   include_pending: bool = False) -> list[CandidateRecord]:
        """Stored rows in storage order (finished ones unless ``include_pending``), optionally filtered."""
        filters = {"task": task, "role": role,
                   "settings": None if settings is None else R.settings_key(settings)}
        rows = R.decode_all(self._rows(**filters), "the run store")
        return [r for r in rows if (include_pending or r.state == DONE) and (include_failed or r.ok)
                and (include_aliases or r.alias_of is None)]

    def pending(self, task: str | None = None, role: str | None = None,
                settings: dict[str, Any] | None = None) -> list[CandidateRecord]:
        """Trials accepted but not finished (pending or running), oldest first."""
        return [r for r in self.candidates(task, role, settings=settings, include_pending=True)
                if r.state != DONE and r.alias_of is None]

    def count(self, task: str | None = None, role: str | None = None, settings: dict[str, Any] | None = None) -> int:
        """Finished trials (not aliases, not candidates stored untrained), failures included."""
        return sum(1 for r in self.candidates(task, role, settings=settings) if r.trained)

    def fingerprints(self, task: str | None = None, role: str | None = None,
                     settings: dict[str, Any] | None = None) -> dict[str, int]:
        """Fingerprint -> row id of every non-alias row (pending ones too)."""
        return {r.fingerprint: r.id for r in self.candidates(task, role, settings=settings, include_pending=True)
                if r.alias_of is None and r.reference is None}

    def last_trial(self) -> int:
        """The highest trial number stored (0 for none): the loop numbers on from it."""
        return max((r.trial or 0 for r in self.candidates(include_pending=True)), default=0)


class SqliteStore(Store):
    """The SQLite store of one run directory. ``readonly=True`` for every reader."""

    def __init__(self, run_dir: str | os.PathLike, readonly: bool = False) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / R.DB_NAME
        self.readonly = readonly
        self._lock_fh = None
        self._depth = 0
        self.version = R.SCHEMA_VERSION
        if readonly:
            if not self.path.is_file():
                raise RunStoreError(f"no run store in {self.run_dir} (expected {self.path})")
            self._db = self._connect_ro()
            self.version = self._stored_version() or R.SCHEMA_VERSION
            return
        with self._errors("open the run store for writing"):
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._lock()
            try:
                self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                self._db.execute("PRAGMA busy_timeout=30000")
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                found = self._stored_version()
                if found == 1:
                    self._migrate_v1()
                elif found not in (None, R.SCHEMA_VERSION):
                    raise RunStoreError(f"{self.path} has schema version {found}, expected {R.SCHEMA_VERSION}")
                self._db.executescript(R.SCHEMA)
                if found is None:
                    self._db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(R.SCHEMA_VERSION),))
            except BaseException:
                self.close()
                raise

    # -- connection plumbing -----------------------------------------------------------------------
    def _connect_ro(self) -> sqlite3.Connection:
        uri = self.path.resolve().as_uri()
        try:
            db = sqlite3.connect(uri + "?mode=ro", uri=True, timeout=30, isolation_level=None)
            db.execute("PRAGMA busy_timeout=30000")
            for _ in range(50):  # a store its writer is creating this instant: its schema comes at once
                try:
                    db.execute("SELECT count(*) FROM meta").fetchone()
                    break
                except sqlite3.OperationalError as err:
                    if "no such table" not in str(err):
                        raise
                    time.sleep(0.05)
            db.execute("SELECT count(*) FROM meta").fetchone()
            return db
        except sqlite3.Error:
            # A WAL database in a directory we cannot write (no -shm to create): read the file as is.
            try:
                db = sqlite3.connect(uri + "?immutable=1", uri=True, isolation_level=None)
                db.execute("SELECT count(*) FROM meta").fetchone()
                return db
            except sqlite3.Error as err:
                raise RunStoreError(f"cannot read the run store {self.path}: {err}") from None

    def _stored_version(self) -> int | None:
        try:
            found = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.OperationalError:  # no meta table yet
            return None
        return None if found is None else int(json.loads(found[0]))

    def _lock(self) -> None:
        fh = open(self.run_dir / R.LOCK_NAME, "a+")  # noqa: SIM115 - held for the store's lifetime
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise RunStoreError(f"run directory {self.run_dir} is in use by another search") from None
        self._lock_fh = fh

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except OSError as err:
            raise RunStoreError(f"cannot {what} in {self.run_dir}: {err.strerror or err}") from None
        except sqlite3.IntegrityError as err:
            raise RunStoreError(f"cannot {what} in {self.path}: already stored ({err})") from None
        except sqlite3.Error as err:
            raise RunStoreError(f"cannot {what} in {self.path}: {err}") from None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[SqliteStore]:
        if self.readonly:
            raise RunStoreError(f"the run store {self.path} was opened read-only")
        if self._depth:  # inside an outer transaction: it commits or rolls back for us
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        with self._errors("store results"):
            self._db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            finally:
                self._depth = 0
            self._db.execute("COMMIT")

    def close(self) -> None:
        if getattr(self, "_db", None) is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
        if self._lock_fh is not None:
            self._lock_fh.close()
            self._lock_fh = None

    # -- schema 1 ----------------------------------------------------------------------------------
    def _v1_rows(self) -> list[dict[str, Any]]:
        """Every row of a schema-1 store (candidates, then pending proposals) in schema-2 form."""
        cur = self._db.execute("SELECT * FROM candidates ORDER BY id")
        names = [d[0] for d in cur.description]
        rows, trial = [], 0
        for values in cur.fetchall():
            row = dict(zip(names, values, strict=True))
            evaluated = row.get("trial_id") is not None and row.get("alias_of") is None
            trial += evaluated
            rows.append(R.upgrade_v1(row, trial if evaluated else None))
        next_id = max((r["id"] for r in rows), default=0)
        for values in self._db.execute("SELECT trial_id, role, task, proposal FROM pending ORDER BY rowid"):
            trial, next_id = trial + 1, next_id + 1
            rows.append({"id": next_id, **R.pending_v1(values, trial, R.v1_step(values[0]))})
        return rows

    def _migrate_v1(self) -> None:
        rows = self._v1_rows()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute("ALTER TABLE candidates RENAME TO candidates_v1")
            self._db.execute("DROP INDEX IF EXISTS candidates_once")
            self._db.execute("DROP INDEX IF EXISTS candidates_by_task")
            for stmt in R.SCHEMA.split(";"):
                if stmt.strip():
                    self._db.execute(stmt)
            for row in rows:
                self._db.execute(_insert_sql(row), tuple(row.values()))
            self._db.execute("DROP TABLE candidates_v1")
            self._db.execute("DROP TABLE pending")
            self._db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(R.SCHEMA_VERSION),))
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- primitives --------------------------------------------------------------------------------
    def init_run(self, meta: dict[str, Any]) -> None:
        with self.transaction():
            self._db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                                 [(k, R.to_json(v)) for k, v in meta.items()])

    def meta(self) -> dict[str, Any]:
        with self._errors("read the run metadata"):
            rows = self._db.execute("SELECT key, value FROM meta").fetchall()
        return {k: json.loads(v) for k, v in rows}

    def save_state(self, name: str, state: dict[str, Any]) -> None:
        with self.transaction():
            self._db.execute("INSERT OR REPLACE INTO state VALUES (?, ?, ?)", (name, R.to_json(state), R.now()))

    def load_state(self, name: str) -> dict[str, Any] | None:
        with self._errors("read the searcher state"):
            row = self._db.execute("SELECT value FROM state WHERE name=?", (name,)).fetchone()
        return None if row is None else json.loads(row[0])

    def _insert(self, row: dict[str, Any]) -> int:
        with self.transaction():
            try:
                return int(self._db.execute(_insert_sql(row), tuple(row.values())).lastrowid)
            except sqlite3.IntegrityError:
                raise RunStoreError(f"{row['expression']!r} ({row['fingerprint']}) is already stored for "
                                    f"{R.task_label(row['task'], json.loads(row['settings']))}/{row['role']}") from None

    def _update(self, row_id: int, cols: dict[str, Any], *, aliases: bool = False) -> None:
        if not cols:
            return
        sets = ", ".join(f"{k}=?" for k in cols)
        where = "alias_of=?" if aliases else "id=?"
        with self.transaction():
            self._db.execute(f"UPDATE candidates SET {sets} WHERE {where}", (*cols.values(), row_id))

    def _rows(self, **filters: Any) -> list[dict[str, Any]]:
        keys = [k for k, v in filters.items() if v is not None]
        with self._errors("read candidates"):
            if self.version == 1:  # a schema-1 store opened read-only: upgrade what is read
                rows = self._v1_rows()
                return [r for r in rows if all(r.get(k) == filters[k] for k in keys)]
            sql = "SELECT * FROM candidates"
            if keys:
                sql += " WHERE " + " AND ".join(f"{k} = ?" for k in keys)
            cur = self._db.execute(sql + " ORDER BY id", tuple(filters[k] for k in keys))
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    # Faster reads for the loop (the generic ones decode every row).
    def last_trial(self) -> int:
        if self.version == 1:
            return super().last_trial()
        with self._errors("read candidates"):
            return int(self._db.execute("SELECT IFNULL(MAX(trial), 0) FROM candidates").fetchone()[0])


def _insert_sql(row: dict[str, Any]) -> str:
    return f"INSERT INTO candidates ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})"
