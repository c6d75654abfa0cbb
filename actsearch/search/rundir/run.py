"""Run (or resume) one search: spec → store → searcher → :class:`Study` → executor.

``run(spec, run_dir)`` is what ``actsearch search`` / ``resume`` call; ``run_dir=None`` keeps the
run in memory (the Python API). The executor is Ray Tune (embedded local Ray, or the cluster at
``spec.address``) unless ``executor="inprocess"``: then trials run one at a time in this process.

Everything that can be refused is checked before the store is made: settings, space, searcher,
task, the address, and for a cluster the code it ships (:mod:`actsearch.search.infra.shipping`,
sized before Ray starts). A new run that fails before its first trial (a cluster that cannot be
joined, Ray that does not start) leaves behind nothing it created (:class:`NewRunDir`), so the
same ``search`` can be tried again.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from actsearch.errors import UserError
from actsearch.evaluators.result import Status
from actsearch.results.records import DB_NAME, LOCK_NAME, Role
from actsearch.results.store import SqliteStore, Store
from actsearch.search.infra.node import NODE_FILE
from actsearch.search.infra.package import ShipError
from actsearch.search.infra.shipping import plan, runtime_env
from actsearch.search.loop.study import Study
from actsearch.search.loop.trials import StudyEvent
from actsearch.search.rundir.scheduler import halving_ladder, resolve_scheduler
from actsearch.search.rundir.source import canonical
from actsearch.search.rundir.spec import (
    SPACE_COPY,
    RunSummary,
    SearchSpec,
    check,
    check_new,
    pack_size,
    prepare,
    probe_settings,
    probe_task,
    run_space,
    searcher_options,
)
from actsearch.search.space.files import space_toml as toml_text

EXECUTORS = ("ray", "inprocess")
# What a run creates in its directory before its first trial (the store, its lock, the space's copy,
# an embedded Ray node's record, Tune's storage): what NewRunDir.discard removes again.
RUN_FILES = (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", f"{DB_NAME}-journal", LOCK_NAME, SPACE_COPY, NODE_FILE,
             "tune")


class NewRunDir:
    """A new run's directory as it was before the run: :meth:`discard` removes what the run made
    there — its own files (``RUN_FILES``) that were not there before, then the directory and the
    directories above it that did not exist before, if they are empty. Nothing else is touched."""

    def __init__(self, path: Path) -> None:
        self.path, self.made = path, []
        up = path
        while not os.path.lexists(up) and up != up.parent:
            self.made.append(up)  # deepest first
            up = up.parent
        try:
            self.before = frozenset() if self.made and self.made[0] == path else frozenset(os.listdir(path))
        except OSError:
            self.before = frozenset(RUN_FILES)  # unreadable: touch nothing

    def discard(self) -> None:
        for name in RUN_FILES:
            target = self.path / name
            if name in self.before or not os.path.lexists(target):
                continue
            try:
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                else:
                    target.unlink()
            except OSError:
                pass
        for folder in self.made:
            try:
                folder.rmdir()
            except OSError:
                break


def check_run_memory(spec: SearchSpec, task: Any, pack: int, *, local: bool) -> None:
    """Refuse (one line) a search whose trials cannot fit in memory together: a trial trains ``pack``
    candidates of ``spec.seeds`` seeds as one stacked network on tasks that batch, and on this
    machine ``spec.workers`` trials run at once (a cluster's nodes are sized by Ray)."""
    from actsearch.evaluators.tasks import check_memory

    members = pack * spec.seeds if task.batched else 1
    check_memory(task, members * (spec.workers if local else 1))


def build_searcher(spec: SearchSpec, space: Any, task: Any = None, given: Any = None) -> Any:
    """The spec's searcher (a bad name or option is an error before anything is written): ``given``
    when it is a Searcher, built from ``given`` when it is a Searcher class, else by its name."""
    from actsearch.search.searchers import Searcher, make_searcher

    if isinstance(given, Searcher):
        return given
    return make_searcher(spec.searcher if given is None else given, space, seed=spec.seed,
                         **searcher_options(spec, task))


def open_study(spec: SearchSpec, store: Store, *, task: Any, space: Any,
               on_event: Callable[[StudyEvent], None] | None = None, searcher: Any = None) -> Study:
    """The study of ``spec`` over ``store`` (the searcher is restored from its checkpoint by the study)."""
    from actsearch.search.screening.prescreen import PreScreen

    searcher = searcher if searcher is not None else build_searcher(spec, space, task)
    screen = PreScreen(probe_task(spec, task)) if spec.screens() else None
    return Study(store, task=spec.task, settings=spec.task_overrides, searcher=searcher, budget=spec.budget,
                 seeds=spec.seeds, references=tuple(spec.references), screen=screen,
                 threads=max(1, int(spec.cpus_per_trial)), time_limit_s=spec.time_limit_s, on_event=on_event,
                 halving=halving_ladder(spec))


def execute(study: Study, executor: str, spec: SearchSpec, run_dir: Path | None, name: str,
            ray_started: Callable[[], None] | None = None, pack: int = 1) -> bool:
    """Run the study to its end with the chosen executor, ``pack`` trials trained together per
    worker; returns whether it was interrupted."""
    if executor == "inprocess":
        from actsearch.search.loop.inprocess import InProcessExecutor

        try:
            return InProcessExecutor(pack).run(study)
        except KeyboardInterrupt:
            return True
    if ray_started is not None:  # before Ray Tune is imported: the node's agents inherit the environment
        ray_started()               # (its ownership token) as it is when Ray starts
    from actsearch.search.loop.ray_tune import RayTuneExecutor

    storage = (run_dir if run_dir is not None else Path.cwd() / ".actsearch-tune") / "tune"
    return RayTuneExecutor(storage=storage, name=f"{name}-{int(time.time())}", workers=spec.workers,
                           cpus_per_trial=spec.cpus_per_trial, gpus_per_trial=spec.gpus_per_trial,
                           scheduler=spec.scheduler, pack=pack).run(study)


def run(spec: SearchSpec, run_dir: str | Path | None, *, resume: bool = False,
        on_event: Callable[[StudyEvent], None] | None = None, executor: str = "ray",
        keep_store: bool = False, force: bool = False, space_object: Any = None,
        searcher_object: Any = None) -> tuple[RunSummary, Store | None]:
    """Run (or resume) a search into ``run_dir``; the summary (and the open store if ``keep_store``).
    ``space_object`` / ``searcher_object``: a Space, and a Searcher or its class, to use instead of
    the ones ``spec`` names (``spec`` holds the names a run directory records; ``run_search``).

    ``force``: resume even when the task's source changed since the run started (recorded in its
    metadata; :mod:`actsearch.search.rundir.source`)."""
    from actsearch.evaluators import get_task
    from actsearch.evaluators.guard import import_time_limit
    from actsearch.search.infra.cluster import (
        check_cluster_resources,
        check_local_resources,
        probe_address,
        start_ray,
        stop_ray,
    )
    check(spec)
    if not isinstance(spec.ship, (tuple, list)) \
            or not all(isinstance(p, (str, os.PathLike)) and str(p) for p in spec.ship):
        raise ShipError(f"ship takes a list of file or directory paths, got {spec.ship!r}"[:200])
    # files absolute: stored, resumed and resolved by workers alike
    spec = replace(spec, task=canonical(spec.task), ship=tuple(os.path.abspath(p) for p in spec.ship))
    if executor not in EXECUTORS:
        raise UserError(f"unknown executor {executor!r}; valid: {', '.join(EXECUTORS)}")
    run_path = None if run_dir is None else Path(run_dir)
    if not resume:
        check_new(run_path)
    kept: dict[str, Any] = {}  # a resumed run's own settings, where the spec does not give them
    if resume and run_path is not None and (run_path / "run.sqlite").is_file():
        with SqliteStore(run_path, readonly=True) as stored:
            kept = stored.meta().get("spec", {})
    if spec.prescreen is None:  # not given: keep the run's setting
        spec = replace(spec, prescreen=kept.get("prescreen"))
    # a bad space, searcher or task: an error before anything is written
    space = run_space(spec, run_path, resume=resume, given=space_object)
    if space_object is not None and run_path is not None and toml_text(space) is None:
        raise UserError(f"the space {space.name!r} cannot be saved as a TOML file, so a run directory cannot hold it")
    with import_time_limit(spec.time_limit_s):  # a task file that hangs at import is bounded too
        task = get_task(spec.task, **spec.task_overrides)
    stored_scheduler = kept.get("scheduler")
    spec, task = resolve_scheduler(spec, task, stored_scheduler if isinstance(stored_scheduler, str) else None,
                                   resume=resume)
    searcher = build_searcher(spec, space, task, searcher_object)
    check_run_memory(spec, task, pack_size(spec, task, searcher), local=executor == "inprocess" or not (
        spec.address or os.environ.get("RAY_ADDRESS")))
    if not spec.address and executor == "ray":
        check_local_resources(spec.cpus_per_trial, spec.gpus_per_trial)
    joins = executor == "ray" and bool(spec.address or os.environ.get("RAY_ADDRESS"))
    if spec.ship and not joins and not resume:
        raise ShipError("--ship chooses what a search on a cluster (--address) ships; "
                        "this one runs on this machine, where nothing is shipped")
    shipping = plan(spec.task, spec.ship, run_path) if joins else None  # sized before the store or Ray
    for line in shipping.notes() if shipping is not None else ():
        print(line, file=sys.stderr)
    if spec.address and spec.address != "auto" and executor == "ray":
        probe_address(spec.address)  # after the package is sized: both refuse before anything is written
    fresh = NewRunDir(run_path) if run_path is not None and not resume else None
    store = prepare(spec, run_path, resume=resume, force=force,
                    space_toml=toml_text(space) if space_object is not None and run_path is not None else None)
    handle = None
    began = failed = False
    try:
        store.init_run({"probe": probe_settings(spec, task)})  # never silently the fallback
        study = open_study(spec, store, task=task, space=space, on_event=on_event, searcher=searcher)
        start = time.perf_counter()
        interrupted = False

        def ray_started() -> None:
            nonlocal handle, began
            with runtime_env(shipping) as env:  # the staged copy lives until ray.init has uploaded it
                handle = start_ray(spec.address, spec.workers, cpus_per_trial=spec.cpus_per_trial,
                                   gpus_per_trial=spec.gpus_per_trial, run_dir=run_path, runtime_env=env)
            check_cluster_resources(spec.cpus_per_trial, spec.gpus_per_trial)
            began = True

        try:
            if not study.finished:
                began = executor == "inprocess"
                interrupted = execute(study, executor, spec, run_path, "trials", ray_started,
                                      pack=pack_size(spec, task, searcher))
        finally:
            study.close()
        if study.failure is not None:
            raise study.failure
        failures = sum(1 for r in store.candidates(task=spec.task, settings=spec.task_overrides, role=Role.SEARCH,
                                                   include_aliases=False)
                       if r.trained and not r.ok and r.status != Status.STOPPED)  # a stopped one scored
        summary = RunSummary(run_path, study.evaluated, spec.budget, study.finished, interrupted, failures,
                             time.perf_counter() - start, study.new)
        return summary, (store if keep_store else None)
    except BaseException:
        failed = True
        raise
    finally:
        stop_ray(handle)
        discard = failed and not began and fresh is not None
        if not keep_store or discard:
            store.close()
        if discard:
            fresh.discard()  # no trial started: the directory is as it was, the search can be tried again
