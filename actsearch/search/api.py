"""``actsearch.run_search``: a search from Python on the same loop as the CLI, returning a ``Run``.

::

    run = actsearch.run_search(space="quick", searcher="evolution", task="digits", budget=20, seeds=1)
    run.leaderboard(top=5), run.best()          # the same Run object actsearch.open_run gives
    from my_tasks import task                   # a ModelTask, an @actsearch.task function ...
    run = actsearch.run_search(space="quick", task=task, budget=20)   # recorded as my_tasks:task

``run_dir=None`` keeps everything in memory (the in-memory store; nothing is written); a run
directory gets the SQLite store and can be opened, resumed and inspected with the CLI.

Space, searcher and task are each a name or the object itself::

    space = actsearch.Space(...)  or  space_from_dict({...})  or  load_space("quick")
    run = actsearch.run_search(space=space, searcher=MySearcher, task="digits", budget=20)
    run = actsearch.run_search(space="quick", searcher=MySearcher(space, seed=0), task="digits", budget=20)

A run directory records each by a name another process can rebuild it from (``actsearch resume``
does): a space loaded from a preset or file by that name (a file is copied into the run), any other
space by its TOML text (saved as the run's ``space.toml``, :func:`~actsearch.search.space.files.space_toml`); a searcher by its
registered or entry-point name, else as ``module:Class``, rebuilt as ``Class(space, seed=seed,
**options)`` with its checkpointed state. What cannot be recorded so — a space made of primitives
outside the grammar's tables, a searcher class defined in ``__main__`` — runs in memory only and is
refused, in one line, with a run directory.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from actsearch.errors import UserError
from actsearch.results.run import Run
from actsearch.search.loop.trials import StudyEvent
from actsearch.search.rundir.spec import REFERENCES, SPACE_COPY, SearchSpec
from actsearch.search.searchers import Searcher, SearcherError, recorded_name, searcher_class
from actsearch.search.space.core import Space, SpaceError
from actsearch.search.space.files import load_space
from actsearch.search.space.files import space_toml as toml_text


def _check_arguments(**given: Any) -> None:
    """The arguments of :func:`run_search` that :func:`~actsearch.search.rundir.spec.check` does not
    see, each of its type (budget, seeds, workers, task ... are checked there, before any work)."""
    def bad(name: str, want: str) -> UserError:
        value = given[name]
        shown = repr(value) if len(repr(value)) <= 60 else f"a {type(value).__name__}"
        return UserError(f"run_search: {name} must be {want}, got {shown}")

    if not isinstance(given["space"], (str, os.PathLike, Space)):
        raise bad("space", "a preset name, a TOML file or a Space")
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


def _space_argument(space: str | os.PathLike | Space, run_dir: Any) -> tuple[str, Space | None]:
    """The text a run records for ``space`` and the Space object to search, when one was given
    that a name does not stand for (see the module docstring)."""
    if not isinstance(space, Space):
        return str(space), None
    if space.source is not None:
        try:
            if load_space(space.source) == space:
                return space.source, None
        except SpaceError:  # its file is gone or changed: saved as text below
            pass
    if run_dir is None:
        return f"<Space {space.name}>", space
    if toml_text(space) is None:
        raise SpaceError(f"run_search: the Space {space.name!r} cannot be saved with a run directory (its primitives "
                         "are not all the grammar's, or its [primitives] are not after them), so a resume could "
                         "not rebuild it; build it with space_from_dict or a TOML file, or run in memory (run_dir=None)")
    return str(Path(run_dir).resolve() / SPACE_COPY), space


def _searcher_argument(searcher: Any, run_dir: Any, options: Any) -> tuple[str, Searcher | type[Searcher] | None]:
    """The name a run records for ``searcher`` and the class or instance to use, when one was given
    that the name cannot rebuild in this process (see the module docstring)."""
    if isinstance(searcher, str):
        if run_dir is None:
            searcher_class(searcher)  # an unknown name: one line, before anything starts
            return searcher, None
        recorded = recorded_name(searcher)
        if recorded is None:
            raise SearcherError(f"run_search: the searcher {searcher!r} is registered from a class that another "
                                "process cannot import (defined in __main__, a notebook or a function), so a resume "
                                "could not rebuild it; define it in a module, or run in memory (run_dir=None)")
        return recorded, None
    is_class = isinstance(searcher, type) and issubclass(searcher, Searcher)
    if not is_class and not isinstance(searcher, Searcher):
        shown = repr(searcher) if len(repr(searcher)) <= 60 else f"a {type(searcher).__name__}"
        raise UserError(f"run_search: searcher must be a name, a Searcher class or a Searcher, got {shown}")
    if not is_class and options:
        raise UserError("run_search: options are for a searcher given by name or class; this one is already "
                        "built (pass its class with options=..., or build it with them)")
    cls = searcher if is_class else type(searcher)
    recorded = recorded_name(searcher)
    if recorded is None and run_dir is not None:
        raise SearcherError(f"run_search: the searcher class {cls.__qualname__} is defined in {cls.__module__} (a "
                            "script run directly, a notebook or a function), which a resume could not import to "
                            "rebuild it; define it in a module and pass it from there, or run in memory "
                            "(run_dir=None)")
    if is_class and recorded is not None:
        return recorded, None  # built by that name, as the CLI and a resume build it
    label = recorded or f"{cls.__module__}:{cls.__qualname__}"
    if not is_class and cls.name == Searcher.name:
        searcher.name = label  # its rows and checkpoints name it, as make_searcher names one it builds
    return label, searcher


def run_search(*, space: str | os.PathLike | Space, searcher: str | type[Searcher] | Searcher = "evolution",
               task: Any = "mnist1d", budget: int = 100,
               seeds: int = 1, run_dir: str | os.PathLike | None = None, seed: int = 0,
               settings: dict[str, Any] | None = None, options: dict[str, Any] | None = None,
               references: tuple[str, ...] = REFERENCES, prescreen: bool | None = None, workers: int = 1,
               executor: str | None = None, resume: bool = False, force: bool = False,
               on_event: Callable[[StudyEvent], None] | None = None,
               ship: str | os.PathLike | tuple[str | os.PathLike, ...] = (), scheduler: str | None = None) -> Run:
    """Run (or with ``resume`` continue) a search and return its :class:`~actsearch.results.run.Run`.

    ``executor``: ``"inprocess"`` (one trial at a time in this process; the default for one
    worker) or ``"ray"`` (Ray Tune, embedded local Ray; the default for more workers). ``force``
    with ``resume``: go on even though the task's source changed since the run started. ``ship``: the
    files and directories of the task's code a cluster gets (``$RAY_ADDRESS``), as ``--ship``.
    ``scheduler``: ``"halving"`` (successive halving over packs: weak one-seed candidates stop at a
    rung), ``"fifo"`` (every candidate trains in full) or ``"asha"`` (Ray Tune's, packs of one), as
    ``--scheduler``; None: halving where the task trains packs and ``seeds`` is 1, else fifo (a
    resumed run keeps its own).

    Every argument's type (and every setting's range) is checked before anything starts: a wrong
    one is a one-line :class:`~actsearch.errors.UserError` naming it. Resuming a run whose task is
    a user's file or module needs ``task`` to name that same code (it is imported only then).

    ``task`` is a name or reference (``"digits"``, ``"FILE.py:NAME"``, ``"module:NAME"``) or a task
    object as :func:`actsearch.evaluate` takes it (a ``ModelTask``, an ``@actsearch.task`` function): a
    run records its task by reference and workers import it by that reference, so an object is named
    by the file or module that holds it (:func:`~actsearch.evaluators.resolve.reference_of`); one
    defined in ``__main__`` (a script run directly, a notebook) is a one-line error saying how.
    ``space`` and ``searcher`` may be objects as well: the module docstring says how a run directory
    records them, and which it refuses."""
    _check_arguments(space=space, run_dir=run_dir, settings=settings, options=options, references=references,
                     executor=executor, resume=resume, force=force, on_event=on_event)  # before dict(...) below
    space, space_object = _space_argument(space, run_dir)
    searcher, searcher_object = _searcher_argument(searcher, run_dir, options)
    if not isinstance(task, str):
        from actsearch.evaluators.resolve import reference_of

        task = reference_of(task)
    if resume and run_dir is not None:
        from actsearch.search.rundir.source import confirm
        from actsearch.search.rundir.spec import check_budget, spec_from_store

        if (Path(run_dir) / "run.sqlite").is_file():
            stored = spec_from_store(run_dir)
            confirm(stored.task, task, stored.searcher_options, flag="task=")
            check_budget(run_dir, budget, flag="budget")
    spec = SearchSpec(space=space, searcher=searcher, task=task, budget=budget, seeds=seeds, seed=seed,
                      workers=workers, references=tuple(references), task_overrides=dict(settings or {}),
                      searcher_options=dict(options or {}), prescreen=prescreen, scheduler=scheduler,
                      ship=(ship,) if isinstance(ship, (str, os.PathLike)) else ship)
    from actsearch.search.rundir.run import run

    chosen = executor or ("inprocess" if workers == 1 else "ray")
    _, store = run(spec, run_dir, resume=resume, on_event=on_event, executor=chosen, keep_store=run_dir is None,
                   force=force, space_object=space_object, searcher_object=searcher_object)
    if run_dir is None:
        return Run(store=store)
    return Run(run_dir)
