"""The SQLite backend of the store protocol: the run directory's ``RUN_DIR/run.sqlite``.

``run.sqlite`` is written by one writer (guarded by ``RUN_DIR/.writer.lock``) and read by anyone:
readers open it read-only (``mode=ro``) and the database runs in WAL mode, so a reader never
blocks the writer nor sees a half-written row. Every write is one transaction: a crash, a read-only
directory or a full disk raise :class:`~actsearch.results.base.RunStoreError` (a
:class:`~actsearch.errors.UserError`) and lose nothing already stored. A schema-1 store is migrated
when opened for writing and read as it is when opened read-only (:mod:`actsearch.results.records`).
A row that cannot be decoded is skipped with a warning, and so is (for a reader) a metadata value
that is not JSON of the expected type; a writer refuses such a store in one line rather than write
into what it cannot read. Text is decoded leniently (an invalid UTF-8 byte in one cell becomes
U+FFFD instead of making the whole store unreadable), columns are read by name (an extra column is
ignored), and no file of the store is ever written through a symbolic link
(:mod:`actsearch.results.rundir`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from actsearch.results import records as R
from actsearch.results.base import RunStoreError, Store
from actsearch.results.rundir import STORE_FILES, open_lock, refuse_links
from actsearch.results.text import quoted


class SqliteStore(Store):
    """The SQLite store of one run directory. ``readonly=True`` for every reader."""

    def __init__(self, run_dir: str | os.PathLike, readonly: bool = False) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / R.DB_NAME
        self.readonly = readonly
        self._lock_fh = None
        self.version = R.SCHEMA_VERSION
        if readonly:
            refuse_links(self.run_dir, STORE_FILES)  # a reader may create -shm: never through a link
            if not self.path.is_file():
                raise RunStoreError(f"no run store in {self.run_dir} (expected {self.path})")
            self._db = self._connect_ro()
            try:
                self.version = self._stored_version() or R.SCHEMA_VERSION
            except BaseException:
                self.close()
                raise
            return
        with self._errors("open the run store for writing"):
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._lock()
            try:
                refuse_links(self.run_dir, STORE_FILES)  # checked under the lock: no writer makes one now
                self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                self._db.text_factory = _text
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
            db.text_factory = _text
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
                db.text_factory = _text
                db.execute("SELECT count(*) FROM meta").fetchone()
                return db
            except sqlite3.Error as err:
                raise RunStoreError(f"cannot read the run store {self.path}: {err}") from None

    def _stored_version(self) -> int | None:
        try:
            found = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.OperationalError:  # no meta table yet
            return None
        if found is None:
            return None
        try:
            return R.meta_value("schema_version", found[0])
        except ValueError:
            raise RunStoreError(f"{self.path} has an unreadable schema version {quoted(found[0])}; "
                                f"expected {R.SCHEMA_VERSION}") from None

    def _lock(self) -> None:
        fh = open_lock(self.run_dir / R.LOCK_NAME)  # held for the store's lifetime; never through a link
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

    # -- transactions (the nesting is the base's) ---------------------------------------------------
    def _where(self) -> str:
        return str(self.path)

    def _write_errors(self) -> contextlib.AbstractContextManager[None]:
        return self._errors("store results")

    def _begin(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def _commit(self) -> None:
        self._db.execute("COMMIT")

    def _rollback(self) -> None:
        self._db.execute("ROLLBACK")

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
        next_id = max((r["id"] for r in rows if isinstance(r.get("id"), int)), default=0)
        for values in self._db.execute("SELECT trial_id, role, task, proposal FROM pending ORDER BY rowid"):
            try:
                pending = R.pending_v1(values, trial + 1, R.v1_step(values[0]))
            except (ValueError, KeyError, TypeError, AttributeError) as err:
                what = f"the pending trial {quoted(values[0])} of {self.path} does not decode ({type(err).__name__})"
                if not self.readonly:  # migrating would drop it: refuse, keep the store as it is
                    raise RunStoreError(f"{what}; cannot upgrade the store") from None
                R.warn_once(f"skipping {what}")
                continue
            trial, next_id = trial + 1, next_id + 1
            rows.append({"id": next_id, **pending})
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
        """The run's metadata. A value that is not JSON of its type (:data:`~actsearch.results.records.
        META_TYPES`) is left out with a warning by a reader, and refused in one line by the writer."""
        with self._errors("read the run metadata"):
            rows = self._db.execute("SELECT key, value FROM meta").fetchall()
        out = {}
        for key, text in rows:
            try:
                out[key] = R.meta_value(key, text)
            except ValueError as err:
                what = f"the run metadata {quoted(key)} in {self.path} is {err}"
                if not self.readonly:
                    raise RunStoreError(f"{what}; refusing to write into a store it cannot read") from None
                R.warn_once(f"ignoring {what}")
        return out

    def save_state(self, name: str, state: dict[str, Any]) -> None:
        with self.transaction():
            self._db.execute("INSERT OR REPLACE INTO state VALUES (?, ?, ?)", (name, R.to_json(state), R.now()))

    def load_state(self, name: str) -> dict[str, Any] | None:
        with self._errors("read the searcher state"):
            row = self._db.execute("SELECT value FROM state WHERE name=?", (name,)).fetchone()
        if row is None:
            return None
        try:
            state = R.json_value(row[0])
        except ValueError as err:
            state, why = None, str(err)
        else:
            why = "not a JSON object"
        if not isinstance(state, dict):
            raise RunStoreError(f"the stored searcher state {quoted(name)} in {self.path} is {why}; "
                                "it cannot be resumed (the stored results still read)")
        return state

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


def _text(data: bytes) -> str:
    """SQLite TEXT as str: an invalid UTF-8 byte becomes U+FFFD (one bad cell leaves the rest readable)."""
    return data.decode("utf-8", "replace")


def _insert_sql(row: dict[str, Any]) -> str:
    return f"INSERT INTO candidates ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})"
