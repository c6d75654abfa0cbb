"""``actsearch.run_search``: a search from Python on the same loop as the CLI, returning a ``Run``.

::

    run = actsearch.run_search(space="quick", searcher="evolution", task="digits", budget=20, seeds=1)
    run.leaderboard(top=5), run.best()          # the same Run object actsearch.open_run gives

``run_dir=None`` keeps everything in memory (the in-memory store; nothing is written); a run
directory gets the SQLite store and can be opened, resumed and inspected with the CLI.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from actsearch.results.run import Run
from actsearch.search.runner.spec import REFERENCES, SearchSpec
from actsearch.search.runner.study import StudyEvent


def run_search(*, space: str, searcher: str = "evolution", task: str = "mnist1d", budget: int = 100,
               seeds: int = 1, run_dir: str | os.PathLike | None = None, seed: int = 0,
               settings: dict[str, Any] | None = None, options: dict[str, Any] | None = None,
               references: tuple[str, ...] = REFERENCES, prescreen: bool | None = None, workers: int = 1,
               executor: str | None = None, resume: bool = False, force: bool = False,
               on_event: Callable[[StudyEvent], None] | None = None) -> Run:
    """Run (or with ``resume`` continue) a search and return its :class:`~actsearch.results.run.Run`.

    ``executor``: ``"inprocess"`` (one trial at a time in this process; the default for one
    worker) or ``"ray"`` (Ray Tune, embedded local Ray; the default for more workers). ``force``
    with ``resume``: go on even though the task's source changed since the run started."""
    spec = SearchSpec(space=str(space), searcher=searcher, task=task, budget=budget, seeds=seeds, seed=seed,
                      workers=workers, references=tuple(references), task_overrides=dict(settings or {}),
                      searcher_options=dict(options or {}), prescreen=prescreen)
    from actsearch.search.runner.run import run

    chosen = executor or ("inprocess" if workers == 1 else "ray")
    _, store = run(spec, run_dir, resume=resume, on_event=on_event, executor=chosen, keep_store=run_dir is None,
                   force=force)
    if run_dir is None:
        return Run(store=store)
    return Run(run_dir)
