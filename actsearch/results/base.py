"""The store protocol of a run: :class:`Store`, what the search loop writes through and every reader
reads — run metadata, searcher checkpoints, and one row per trial / alias / untrained candidate
(:class:`~actsearch.results.records.CandidateRecord`).

A trial row is added ``pending`` when the loop accepts a proposal, marked ``running`` when an
executor takes it, and ``done`` with its result — each one O(1) write. Everything above the
primitives (the writes and reads the loop uses, and nested transactions: the outermost one
commits or rolls back) is shared here, so the two backends — :class:`~actsearch.results.sqlite.SqliteStore`
(the run directory) and :class:`~actsearch.results.memory.MemoryStore` — behave alike
(``tests/runs/test_store.py`` runs the same tests on both). The rows they store are built by
:mod:`actsearch.results.rows`.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any

from actsearch.errors import UserError
from actsearch.evaluators.result import INVALID, CandidateResult, Status
from actsearch.results import records as R
from actsearch.results.records import CandidateRecord, Role, TrialState
from actsearch.results.rows import merged_row, new_row, result_columns


class RunStoreError(UserError):
    """The run store cannot be read or written (missing, read-only, full, locked, foreign)."""


class Store(ABC):
    """The run store protocol (see the module docstring); both backends implement it alike."""

    readonly: bool = False
    _depth = 0  # open transactions: the outermost one begins and commits or rolls back

    # -- transactions (shared): a backend gives begin / commit / rollback ---------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[Store]:
        """Group writes: all are stored or none (nesting joins the outermost)."""
        if self.readonly:
            raise RunStoreError(f"the run store {self._where()} was opened read-only")
        if self._depth:  # inside an outer transaction: it commits or rolls back for us
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        with self._write_errors():
            self._begin()
            self._depth = 1
            try:
                yield self
            except BaseException:
                self._rollback()
                raise
            finally:
                self._depth = 0
            self._commit()

    def _where(self) -> str:
        """Where the store is, for messages."""
        return "in memory"

    def _write_errors(self) -> contextlib.AbstractContextManager[None]:
        """Turns the backend's own errors during a write into RunStoreError (none by default)."""
        return contextlib.nullcontext()

    @abstractmethod
    def _begin(self) -> None:
        """Start the outermost transaction."""

    @abstractmethod
    def _commit(self) -> None:
        """Keep the outermost transaction's writes."""

    @abstractmethod
    def _rollback(self) -> None:
        """Undo the outermost transaction's writes."""

    # -- primitives each backend implements ---------------------------------------------------------

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
            self._update(row_id, {"state": TrialState.RUNNING})

    def finish(self, row_id: int, result: CandidateResult, *, status: Status | None = None,
               canonical: str | None = None, retries: int = 0) -> None:
        """Store a trial's result (its aliases copy it); the row becomes ``done``."""
        with self.transaction():
            old = self.record_by_id(row_id)
            cols = result_columns(result, status=status, canonical=canonical, retries=retries, metrics=old.metrics)
            self._update(row_id, cols)
            self._update(row_id, {k: v for k, v in cols.items() if k not in ("runs", "canonical")}, aliases=True)

    def record(self, expression: str, fingerprint: str, result: CandidateResult, *, task: str,
               role: Role = Role.SEARCH, trial: int | None = None, status: Status | None = None, retries: int = 0,
               aliases: Sequence[str] = (), state: tuple[str, dict[str, Any]] | None = None, **kw: Any) -> int:
        """A finished row (+ alias rows, + optionally a checkpoint) in one transaction."""
        with self.transaction():
            row = new_row(expression, fingerprint, task=task, role=role, trial=trial, state=TrialState.DONE, **kw)
            row.update(result_columns(result, status=status, canonical=kw.get("canonical"), retries=retries))
            row_id = self._insert(row)
            for alias in aliases:
                self._insert({**row, "trial": None, "expression": alias, "canonical": None, "alias_of": row_id,
                              "runs": "[]"})
            if state is not None:
                self.save_state(*state)
        return row_id

    def record_invalid(self, expression: str, fingerprint: str, reason: str, *, task: str,
                       role: Role = Role.SEARCH, **kw: Any) -> int:
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
        rows = R.decode_all(self._rows(id=row_id), self._where())
        if not rows:
            raise RunStoreError(f"no stored candidate with id {row_id}")
        return rows[0]

    def candidates(self, task: str | None = None, role: Role | None = None, include_failed: bool = True,
                   include_aliases: bool = True, settings: dict[str, Any] | None = None,
                   include_pending: bool = False) -> list[CandidateRecord]:
        """Stored rows in storage order (finished ones unless ``include_pending``), optionally filtered."""
        filters = {"task": task, "role": role,
                   "settings": None if settings is None else R.settings_key(settings)}
        rows = R.decode_all(self._rows(**filters), self._where())
        return [r for r in rows if (include_pending or r.state == TrialState.DONE) and (include_failed or r.ok)
                and (include_aliases or r.alias_of is None)]

    def pending(self, task: str | None = None, role: Role | None = None,
                settings: dict[str, Any] | None = None) -> list[CandidateRecord]:
        """Trials accepted but not finished (pending or running), oldest first."""
        return [r for r in self.candidates(task, role, settings=settings, include_pending=True)
                if r.state != TrialState.DONE and r.alias_of is None]

    def count(self, task: str | None = None, role: Role | None = None, settings: dict[str, Any] | None = None) -> int:
        """Finished trials (not aliases, not candidates stored untrained), failures included."""
        return sum(1 for r in self.candidates(task, role, settings=settings) if r.trained)

    def fingerprints(self, task: str | None = None, role: Role | None = None,
                     settings: dict[str, Any] | None = None) -> dict[str, int]:
        """Fingerprint -> row id of every non-alias row (pending ones too)."""
        return {r.fingerprint: r.id for r in self.candidates(task, role, settings=settings, include_pending=True)
                if r.alias_of is None and r.reference is None}

    def last_trial(self) -> int:
        """The highest trial number stored (0 for none): the loop numbers on from it."""
        return max((r.trial or 0 for r in self.candidates(include_pending=True)), default=0)
