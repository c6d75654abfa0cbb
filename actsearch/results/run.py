"""A finished (or still running) search, opened read-only: the Python face of the results CLI.

``actsearch.open_run(dir)`` returns a :class:`Run`; ``run.leaderboard()`` ranks its candidates,
``run.best()`` is the winner, ``run.entry("3")`` / ``run.entry("id:17")`` / ``run.entry("relu")``
finds one row, ``run.verdicts()`` / ``run.confirmed_frame()`` rebuild the verdict of an
``actsearch confirm`` from its stored rows, and ``export``, ``plot``, ``report`` mirror the CLI commands. Reading never takes
the writer's lock, so all of this works while a search is still running. ``actsearch.run_search``
returns the same object over the store it ran on (in memory when it had no run directory).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from actsearch.errors import UserError
from actsearch.evaluators.result import OK
from actsearch.results.banner import run_notes
from actsearch.results.leaderboard import Entry, Leaderboard, build
from actsearch.results.records import CandidateRecord, Role
from actsearch.results.store import SqliteStore, Store
from actsearch.results.text import quoted
from actsearch.results.verdict import Confirmed
from actsearch.results.verdicts import COMPARISON_COLUMNS, attach, stored_verdict


class Run:
    """Read-only access to one run's store: a run directory, or a store given as it is."""

    def __init__(self, run_dir: str | os.PathLike | None = None, *, store: Store | None = None) -> None:
        if store is not None:
            self.dir, self._store = (Path(run_dir) if run_dir is not None else None), store
            return
        if run_dir is None:
            raise UserError("Run needs a run directory or a store")
        self.dir = Path(run_dir)
        if not self.dir.is_dir():
            raise UserError(f"no run directory {self.dir}")
        self._store = SqliteStore(self.dir, readonly=True)

    def __repr__(self) -> str:
        return f"Run({str(self.dir) if self.dir is not None else '<memory>'!r})"

    @property
    def meta(self) -> dict[str, Any]:
        """The run's settings (command, space, task, searcher, seed, versions ...)."""
        return self._store.meta()

    def records(self, **filters: Any) -> list[CandidateRecord]:
        """Every stored row (aliases and failures included), in storage order."""
        return self._store.candidates(**filters)

    def record(self, record_id: int) -> CandidateRecord:
        """The stored row with this id."""
        for rec in self.records():
            if rec.id == record_id:
                return rec
        raise UserError(f"no candidate with id {record_id} in {self.dir}")

    def leaderboard(self, top: int | None = None, task: str | None = None, include_failed: bool = False,
                    properties: bool = True) -> Leaderboard:
        """Ranked distinct functions (see :func:`actsearch.results.leaderboard.build`)."""
        records = self.records()
        if task is not None and not any(r.task_label == task for r in records):
            tasks = sorted({quoted(r.task_label) for r in records})
            raise UserError(f"no candidates for task {quoted(task)} in {self.dir}; tasks: "
                            f"{', '.join(tasks[:20]) or 'none'}{' ...' if len(tasks) > 20 else ''}")
        board = build(records, task=task or _label(self.meta), top=top, include_failed=include_failed,
                      properties=properties)
        if any(r.role == Role.CONFIRMATION for r in records):
            attach(board, stored_verdict(records, self.meta))
        board.notes = run_notes(self.meta)  # a smoke run says so wherever its table is shown
        return board

    def verdicts(self, alpha: float | None = None, task: str | None = None) -> Confirmed | None:
        """The verdict of the run's confirmation, rebuilt from its stored ``confirmation`` rows
        (``alpha``: default the one the confirmation used; None when the run has no confirmation)."""
        return stored_verdict(self.records(), self.meta, alpha=alpha, task=task)

    def confirmed_frame(self, alpha: float | None = None, task: str | None = None) -> Any:
        """The comparisons of :meth:`verdicts` as a ``pandas.DataFrame`` (one row per candidate and
        reference, the columns of the ``confirm`` JSON's ``comparisons``; pandas must be installed)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("Run.confirmed_frame() needs pandas (pip install pandas)") from None
        result = self.verdicts(alpha=alpha, task=task)
        rows = [c.to_json() for c in result.comparisons] if result is not None else []
        return pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS))

    def best(self, task: str | None = None) -> Entry:
        """The top-ranked candidate (one that finished: a candidate stopped early never is the best)."""
        board = [e for e in self.leaderboard(top=1, task=task, properties=False) if e.rank == 1 and e.status == OK]
        if not board:
            raise UserError(f"no successful candidate in {self.dir} yet")
        return board[0]

    def entry(self, key: str | int, task: str | None = None) -> Entry:
        """One row by rank (``3``), store id (``id:17`` or ``#17``) or reference name (``relu``)."""
        text = str(key).strip()
        board = self.leaderboard(task=task, include_failed=True, properties=False)
        if text.lstrip("#").startswith("id:") or text.startswith("#"):
            raw = text[3:] if text.startswith("id:") else text[1:]
            if not raw.isdigit():
                raise UserError(f"bad candidate id {text!r}")
            found = [e for e in board if e.id == int(raw)]
            if not found:  # an alias or a row of another task: rank it on its own task
                rec = self.record(int(raw))
                found = [e for e in self.leaderboard(task=rec.task_label, include_failed=True, properties=False)
                         if e.id == rec.id or e.fingerprint == rec.fingerprint]
        elif text.isdigit():
            found = [e for e in board if e.rank == int(text)]
        elif text.isidentifier():  # a reference by its library name
            found = [e for e in board if e.reference == text and e.role == Role.REFERENCE] or \
                    [e for e in board if e.reference == text]
        else:
            raise UserError(f"expected a rank (3), an id (id:17) or a reference name (relu), got {text!r}")
        if not found:
            raise UserError(f"no candidate {text} in {self.dir}")
        return found[0]

    def export(self, key: str | int, out: str | os.PathLike, format: str = "py",
               class_name: str | None = None, rank: int = 2) -> Path:
        """Write the candidate as a standalone torch module (``py``), a TorchScript file or an ONNX
        graph (``onnx``: inputs of ``rank`` dimensions)."""
        from actsearch.results.export import export_entry
        from actsearch.results.plots import entry_activation

        entry = self.entry(key)
        entry_activation(entry)  # a stored function that does not build: one line naming its row
        return export_entry(self, entry, Path(out), fmt=format, class_name=class_name, rank=rank)

    def plot(self, out: str | os.PathLike, top: int | None = 5, task: str | None = None) -> list[Path]:
        """The top-K functions/derivatives figure and the progress figure (second path)."""
        from actsearch.results.plots import plot_run

        return plot_run(self, Path(out), top=top, task=task)

    def report(self, out: str | os.PathLike, top: int | None = 20, task: str | None = None) -> Path:
        """One self-contained HTML page."""
        from actsearch.results.report import write_report

        return write_report(self, Path(out), top=top, task=task)

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _label(meta: dict[str, Any]) -> str | None:
    """The search task's label from the run's metadata (name plus its settings)."""
    from actsearch.results.records import task_label

    task, overrides = meta.get("task"), meta.get("task_overrides")
    if not isinstance(task, str):
        return None
    return task_label(task, overrides if isinstance(overrides, dict) else {})


def open_run(run_dir: str | os.PathLike) -> Run:
    """Open a run directory for reading (``actsearch.open_run``)."""
    return Run(run_dir)
