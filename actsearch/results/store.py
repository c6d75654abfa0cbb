"""The run store: one SQLite file per run directory, the source of truth of a search.

``RUN_DIR/run.sqlite`` is written only by the search driver (one writer, guarded by a lock file,
``RUN_DIR/.writer.lock``) and read by anyone: readers open it read-only (``mode=ro``), and the
database runs in WAL mode, so a reader never blocks the writer nor sees a half-written row.
Every write is one transaction: a crash, a read-only directory or a full disk raise
:class:`RunStoreError` (a :class:`~actsearch.errors.UserError`) and lose nothing already stored.

The schema and the decoded row type, :class:`CandidateRecord`, are in
:mod:`actsearch.results.records`. An evaluated candidate is unique per (task, role, fingerprint);
aliases (the other expressions with the same fingerprint) are rows whose ``alias_of`` points at it
and which copy its result.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from actsearch.errors import UserError
from actsearch.evaluators.result import INVALID, CandidateResult
from actsearch.results.records import (
    _SCHEMA,
    DB_NAME,
    LOCK_NAME,
    ROLES,
    SCHEMA_VERSION,
    STOPPED,
    CandidateRecord,
    RecordError,
    _decode,
    _insert,
    _json,
    _now,
    _num,
    _where,
    warn_skipped,
)


class RunStoreError(UserError):
    """The run directory cannot be read or written (missing, read-only, full, locked, foreign)."""


class RunStore:
    """The SQLite store of one run directory. ``readonly=True`` for every reader."""

    def __init__(self, run_dir: str | os.PathLike, readonly: bool = False) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / DB_NAME
        self.readonly = readonly
        self._lock_fh = None
        self._depth = 0  # open write transactions (nested ones join the outermost)
        if readonly:
            if not self.path.is_file():
                raise RunStoreError(f"no run store in {self.run_dir} (expected {self.path})")
            self._db = self._connect_ro()
            return
        with self._errors("open the run store for writing"):
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._lock()
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA busy_timeout=30000")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            found = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if found is None:
                self._db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(json.loads(found[0])) != SCHEMA_VERSION:
                raise RunStoreError(f"{self.path} has schema version {found[0]}, expected {SCHEMA_VERSION}")

    # -- connection plumbing --------------------------------------------------------------------
    def _connect_ro(self) -> sqlite3.Connection:
        uri = self.path.resolve().as_uri()
        try:
            db = sqlite3.connect(uri + "?mode=ro", uri=True, timeout=30, isolation_level=None)
            db.execute("PRAGMA busy_timeout=30000")
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

    def _lock(self) -> None:
        fh = open(self.run_dir / LOCK_NAME, "a+")  # noqa: SIM115 - held for the store's lifetime
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
        except sqlite3.Error as err:
            raise RunStoreError(f"cannot {what} in {self.path}: {err}") from None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[RunStore]:
        """Group several writes into one transaction: all of them are stored or none.

        Writer methods called inside join it; nesting is allowed (the outermost one commits)."""
        with self._write("store results"):
            yield self

    @contextlib.contextmanager
    def _write(self, what: str) -> Iterator[sqlite3.Connection]:
        """One transaction: all of it is stored or none of it (then RunStoreError)."""
        if self.readonly:
            raise RunStoreError(f"the run store {self.path} was opened read-only")
        if self._depth:  # inside an outer transaction: it commits or rolls back for us
            self._depth += 1
            try:
                yield self._db
            finally:
                self._depth -= 1
            return
        with self._errors(what):
            self._db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            finally:
                self._depth = 0
            self._db.execute("COMMIT")

    def close(self) -> None:
        """Close the database (and release the writer lock)."""
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        if self._lock_fh is not None:
            self._lock_fh.close()
            self._lock_fh = None

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- metadata -------------------------------------------------------------------------------
    def init_run(self, meta: dict[str, Any]) -> None:
        """Store the run's metadata (keys already present are overwritten)."""
        with self._write("store the run metadata") as db:
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, _json(v)) for k, v in meta.items()])

    def meta(self) -> dict[str, Any]:
        """All metadata as a dict (``{}`` plus ``schema_version`` for a fresh store)."""
        with self._errors("read the run metadata"):
            rows = self._db.execute("SELECT key, value FROM meta").fetchall()
        return {k: json.loads(v) for k, v in rows}

    # -- searcher state -------------------------------------------------------------------------
    def save_state(self, name: str, state: dict[str, Any]) -> None:
        """Store a searcher snapshot (JSON-serialisable) under ``name``."""
        with self._write("store the searcher state") as db:
            db.execute("INSERT OR REPLACE INTO state VALUES (?, ?, ?)", (name, _json(state), _now()))

    def load_state(self, name: str) -> dict[str, Any] | None:
        """The last snapshot stored under ``name``, or None."""
        with self._errors("read the searcher state"):
            row = self._db.execute("SELECT value FROM state WHERE name=?", (name,)).fetchone()
        return None if row is None else json.loads(row[0])

    # -- pending proposals ----------------------------------------------------------------------
    def add_pending(
        self, trial_id: str, proposal: dict[str, Any], *, task: str, role: str = "search",
        state: tuple[str, dict[str, Any]] | None = None,
    ) -> None:
        """Note (or update) a proposal handed to a worker; with ``state=(name, snapshot)`` in the same
        transaction. Pending proposals keep the order in which they were first added."""
        with self._write("store a pending proposal") as db:
            db.execute("INSERT INTO pending VALUES (?, ?, ?, ?) ON CONFLICT (role, task, trial_id) "
                       "DO UPDATE SET proposal = excluded.proposal", (trial_id, role, task, _json(proposal)))
            if state is not None:
                db.execute("INSERT OR REPLACE INTO state VALUES (?, ?, ?)", (state[0], _json(state[1]), _now()))

    def pending(self, task: str | None = None, role: str | None = None) -> list[dict[str, Any]]:
        """Proposals handed out and not stored yet, oldest first (each with trial_id, task, role)."""
        sql, args = _where("SELECT trial_id, task, role, proposal FROM pending", task=task, role=role)
        with self._errors("read pending proposals"):
            rows = self._db.execute(sql + " ORDER BY rowid", args).fetchall()
        return [{**json.loads(p), "trial_id": t, "task": k, "role": r} for t, k, r, p in rows]

    # -- results --------------------------------------------------------------------------------
    def record(
        self, expression: str, fingerprint: str, result: CandidateResult, *, task: str,
        role: str = "search", trial_id: str | None = None, canonical: str | None = None,
        params: dict[str, float] | None = None, searcher: str | None = None, step: int | None = None,
        seeds: Sequence[int] = (), aliases: Sequence[str] = (), retries: int = 0,
        status: str | None = None, state: tuple[str, dict[str, Any]] | None = None,
    ) -> int:
        """Store one evaluated candidate (+ its aliases), clear it from pending, optionally save a
        searcher snapshot — all in one transaction. Returns the row id. Storing a fingerprint that
        is already stored for (task, role) raises RunStoreError (the store never holds duplicates)."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        res = result.to_dict()
        row = {
            "trial_id": trial_id, "expression": expression, "canonical": canonical,
            "fingerprint": fingerprint, "params": _json(params or {}), "alias_of": None,
            "searcher": searcher, "step": step, "task": task, "role": role,
            "status": status or res["status"], "score": _num(res["score"]),
            "score_std": _num(res["score_std"]), "seeds": _json(list(seeds)), "runs": _json(res["runs"]),
            "metrics": _json(res["metrics"]), "wall_s": _num(res["wall_s"]), "error": res["error"],
            "retries": int(retries), "created_at": _now(),
        }
        with self._write("store a result") as db:
            try:
                cur = db.execute(_insert(row), tuple(row.values()))
            except sqlite3.IntegrityError:
                raise RunStoreError(f"{expression!r} ({fingerprint}) is already stored for {task}/{role}") from None
            row_id = cur.lastrowid
            for alias in aliases:
                alias_row = {**row, "trial_id": None, "expression": alias, "canonical": None,
                             "alias_of": row_id, "runs": "[]", "created_at": row["created_at"]}
                db.execute(_insert(alias_row), tuple(alias_row.values()))
            if trial_id is not None:
                db.execute("DELETE FROM pending WHERE trial_id=? AND role=? AND task=?", (trial_id, role, task))
            if state is not None:
                db.execute("INSERT OR REPLACE INTO state VALUES (?, ?, ?)", (state[0], _json(state[1]), _now()))
        return int(row_id)

    def record_invalid(self, expression: str, fingerprint: str, reason: str, *, task: str,
                       role: str = "search", **kw: Any) -> int:
        """Store a candidate rejected before training (trivial, unparsable ...) as ``invalid``."""
        result = CandidateResult(status=INVALID, score=0.0, score_std=0.0, error=reason)
        return self.record(expression, fingerprint, result, task=task, role=role, **kw)

    def record_alias(self, expression: str, alias_of: int) -> int:
        """Add one more alias row for the stored candidate ``alias_of`` (copies its result)."""
        with self._write("store an alias") as db:
            src = db.execute("SELECT * FROM candidates WHERE id=?", (alias_of,)).fetchone()
            if src is None:
                raise RunStoreError(f"no stored candidate with id {alias_of}")
            names = [d[0] for d in db.execute("SELECT * FROM candidates LIMIT 0").description]
            row = dict(zip(names, src, strict=True))
            row.pop("id")
            row.update(trial_id=None, expression=expression, canonical=None, alias_of=alias_of,
                       runs="[]", created_at=_now())
            return int(db.execute(_insert(row), tuple(row.values())).lastrowid)

    def add_runs(self, row_id: int, result: CandidateResult, seeds: Sequence[int]) -> CandidateRecord:
        """Re-score the stored candidate ``row_id`` with more seeds (successive halving): merge the
        runs of ``result`` (for ``seeds``; seeds already stored are ignored) into its row and its
        aliases' rows, recomputing status, score and std — one transaction. Returns the new row."""
        from actsearch.evaluators.result import EvalResult

        with self._write("add seeds to a result") as db:
            cur = db.execute("SELECT * FROM candidates WHERE id=?", (row_id,))
            names = [d[0] for d in cur.description]
            src = cur.fetchone()
            if src is None:
                raise RunStoreError(f"no stored candidate with id {row_id}")
            try:
                old = _decode(dict(zip(names, src, strict=True)))
            except RecordError as err:
                raise RunStoreError(f"cannot add seeds to {err}") from None
            have = list(old.seeds)
            runs = [EvalResult.from_dict(r) for r in old.runs]
            for seed, run in zip(seeds, result.runs, strict=False):
                if seed not in have:
                    have.append(int(seed))
                    runs.append(run)
            metrics = dict(old.metrics)
            for key, value in result.metrics.items():  # numeric ones: mean weighted by seeds
                prev = metrics.get(key)
                if isinstance(value, (int, float)) and isinstance(prev, (int, float)) and len(have) > len(old.seeds):
                    n_old = len(old.seeds)
                    metrics[key] = (prev * n_old + value * (len(have) - n_old)) / len(have)
                else:
                    metrics.setdefault(key, value)
            merged = CandidateResult.from_runs(runs, metrics)
            status = old.status if old.status == STOPPED else merged.status
            db.execute("UPDATE candidates SET status=?, score=?, score_std=?, seeds=?, metrics=?, wall_s=?, error=? "
                       "WHERE id=? OR alias_of=?",
                       (status, _num(merged.score), _num(merged.score_std), _json(have), _json(merged.metrics),
                        _num(merged.wall_s), merged.error, row_id, row_id))
            db.execute("UPDATE candidates SET runs=? WHERE id=?", (_json([r.to_dict() for r in runs]), row_id))
            row = db.execute("SELECT * FROM candidates WHERE id=?", (row_id,)).fetchone()
        try:
            return _decode(dict(zip(names, row, strict=True)))
        except RecordError as err:
            raise RunStoreError(str(err)) from None

    # -- reading --------------------------------------------------------------------------------
    def candidates(
        self, task: str | None = None, role: str | None = None, include_failed: bool = True,
        include_aliases: bool = True,
    ) -> list[CandidateRecord]:
        """Stored rows in storage order, optionally filtered."""
        extra = ([] if include_failed else ["status = 'ok'"]) + ([] if include_aliases else ["alias_of IS NULL"])
        sql, args = _where("SELECT * FROM candidates", extra, task=task, role=role)
        with self._errors("read candidates"):
            cur = self._db.execute(sql + " ORDER BY id", args)
            names = [d[0] for d in cur.description]
            rows = cur.fetchall()
        records = []
        for r in rows:
            try:
                records.append(_decode(dict(zip(names, r, strict=True))))
            except RecordError as err:  # a damaged or crafted row: the others still count
                warn_skipped(str(self.path), err)
        return records

    def count(self, task: str | None = None, role: str | None = None) -> int:
        """Number of evaluations: rows with a trial id (not aliases, not candidates skipped before
        training), failures included. A finished search holds exactly its budget of them."""
        sql, args = _where("SELECT count(*) FROM candidates", ["alias_of IS NULL", "trial_id IS NOT NULL"],
                           task=task, role=role)
        with self._errors("count candidates"):
            return int(self._db.execute(sql, args).fetchone()[0])

    def fingerprints(self, task: str | None = None, role: str | None = None) -> dict[str, int]:
        """Fingerprint -> row id of every evaluated (non-alias) row."""
        sql, args = _where("SELECT fingerprint, id FROM candidates", ["alias_of IS NULL"], task=task, role=role)
        with self._errors("read fingerprints"):
            return dict(self._db.execute(sql, args).fetchall())
