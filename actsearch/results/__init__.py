"""Results of a search: the run store, leaderboard, plots, HTML report, validation and export.

``actsearch.open_run(dir)`` is the entry point (see :mod:`actsearch.results.run`); the store
itself is :mod:`actsearch.results.store`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from actsearch.results.run import Run

__all__ = ["Run", "open_run"]


def open_run(run_dir: Any) -> Run:
    """Open a run directory read-only: ``.leaderboard()``, ``.best()``, ``.export(...)`` ..."""
    from actsearch.results.run import Run

    return Run(run_dir)


def __getattr__(name: str) -> Any:
    if name == "Run":
        from actsearch.results.run import Run

        return Run
    raise AttributeError(f"module 'actsearch.results' has no attribute {name!r}")
