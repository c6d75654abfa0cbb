"""``actsearch.run_search``: a search from Python on the same loop as the CLI, returning a ``Run``.

::

    run = actsearch.run_search(space="quick", searcher="evolution", task="digits", budget=20, seeds=1)
    run.leaderboard(top=5), run.best()          # the same Run object actsearch.open_run gives
    from my_tasks import task                   # a ModelTask, an @actsearch.task function ...
    run = actsearch.run_search(space="quick", task=task, budget=20)   # recorded as my_tasks:task

``run_dir=None`` keeps everything in memory (the in-memory store; nothing is written); a run
directory gets the SQLite store and can be opened, resumed and inspected with the CLI.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from actsearch.errors import UserError
from actsearch.results.run import Run
from actsearch.search.runner.spec import REFERENCES, SearchSpec
from actsearch.search.runner.study import StudyEvent


def _check_arguments(**given: Any) -> None:
    """The arguments of :func:`run_search` that :func:`~actsearch.search.runner.spec.check` does not
    see, each of its type (budget, seeds, workers, task ... are checked there, before any work)."""
    def bad(name: str, want: str) -> UserError:
        value = given[name]
        shown = repr(value) if len(repr(value)) <= 60 else f"a {type(value).__name__}"
        return UserError(f"run_search: {name} must be {want}, got {shown}")

    if not isinstance(given["space"], (str, os.PathLike)):
        raise bad("space", "a preset name or a TOML file")
    run_dir = given["run_dir"]
    if run_dir is not None and (not isinstance(run_dir, (str, os.PathLike)) or not os.fspath(run_dir)):
        raise bad("run_dir", "a directory (or None for a run in memory)")
    for name in ("settings", "options"):
        if given[name] is not None and not isinstance(given[name], Mapping):
            raise bad(name, "a dict of NAME: VALUE (or None)")
    refs = given["references"]
    if isinstance(refs, str) or not isinstance(refs, (tuple, list)) or not all(isinstance(r, str) for r in refs):
        raise bad("references", "a tuple of library names")
    if given["executor"] is not None and not isinstance(given["executor"], str):
        raise bad("executor", "ray or inprocess (or None)")
    for name in ("resume", "force"):
        if not isinstance(given[name], bool):
            raise bad(name, "True or False")
    if given["on_event"] is not None and not callable(given["on_event"]):
        raise bad("on_event", "a function of one StudyEvent (or None)")


def run_search(*, space: str, searcher: str = "evolution", task: Any = "mnist1d", budget: int = 100,
               seeds: int = 1, run_dir: str | os.PathLike | None = None, seed: int = 0,
               settings: dict[str, Any] | None = None, options: dict[str, Any] | None = None,
               references: tuple[str, ...] = REFERENCES, prescreen: bool | None = None, workers: int = 1,
               executor: str | None = None, resume: bool = False, force: bool = False,
               on_event: Callable[[StudyEvent], None] | None = None,
               ship: str | os.PathLike | tuple[str | os.PathLike, ...] = ()) -> Run:
    """Run (or with ``resume`` continue) a search and return its :class:`~actsearch.results.run.Run`.

    ``executor``: ``"inprocess"`` (one trial at a time in this process; the default for one
    worker) or ``"ray"`` (Ray Tune, embedded local Ray; the default for more workers). ``force``
    with ``resume``: go on even though the task's source changed since the run started. ``ship``: the
    files and directories of the task's code a cluster gets (``$RAY_ADDRESS``), as ``--ship``.

    Every argument's type (and every setting's range) is checked before anything starts: a wrong
    one is a one-line :class:`~actsearch.errors.UserError` naming it. Resuming a run whose task is
    a user's file or module needs ``task`` to name that same code (it is imported only then).

    ``task`` is a name or reference (``"digits"``, ``"FILE.py:NAME"``, ``"module:NAME"``) or a task
    object as :func:`actsearch.evaluate` takes it (a ``ModelTask``, an ``@actsearch.task`` function): a
    run records its task by reference and workers import it by that reference, so an object is named
    by the file or module that holds it (:func:`~actsearch.evaluators.resolve.reference_of`); one
    defined in ``__main__`` (a script run directly, a notebook) is a one-line error saying how."""
    _check_arguments(space=space, run_dir=run_dir, settings=settings, options=options, references=references,
                     executor=executor, resume=resume, force=force, on_event=on_event)  # before dict(...) below
    if not isinstance(task, str):
        from actsearch.evaluators.resolve import reference_of

        task = reference_of(task)
    if resume and run_dir is not None:
        from actsearch.search.runner.source import confirm
        from actsearch.search.runner.spec import check_budget, spec_from_store

        if (Path(run_dir) / "run.sqlite").is_file():
            stored = spec_from_store(run_dir)
            confirm(stored.task, task, stored.searcher_options, flag="task=")
            check_budget(run_dir, budget, flag="budget")
    spec = SearchSpec(space=str(space), searcher=searcher, task=task, budget=budget, seeds=seeds, seed=seed,
                      workers=workers, references=tuple(references), task_overrides=dict(settings or {}),
                      searcher_options=dict(options or {}), prescreen=prescreen,
                      ship=(ship,) if isinstance(ship, (str, os.PathLike)) else ship)
    from actsearch.search.runner.run import run

    chosen = executor or ("inprocess" if workers == 1 else "ray")
    _, store = run(spec, run_dir, resume=resume, on_event=on_event, executor=chosen, keep_store=run_dir is None,
                   force=force)
    if run_dir is None:
        return Run(store=store)
    return Run(run_dir)
