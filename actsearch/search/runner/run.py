"""Run (or resume) one search: spec → store → searcher → :class:`Study` → executor.

``run(spec, run_dir)`` is what ``actsearch search`` / ``resume`` call; ``run_dir=None`` keeps the
run in memory (the Python API). The executor is Ray Tune (embedded local Ray, or the cluster at
``spec.address``) unless ``executor="inprocess"``: then trials run one at a time in this process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from actsearch.errors import UserError
from actsearch.results.store import SqliteStore, Store
from actsearch.search.runner.shipping import runtime_env
from actsearch.search.runner.source import canonical
from actsearch.search.runner.spec import (
    SPACE_COPY,
    RunSummary,
    SearchSpec,
    check,
    check_new,
    pack_size,
    prepare,
    probe_settings,
    probe_task,
    searcher_options,
    space_of,
)
from actsearch.search.runner.study import Study, StudyEvent

EXECUTORS = ("ray", "inprocess")


def build_searcher(spec: SearchSpec, space: Any, task: Any = None) -> Any:
    """The spec's searcher (a bad name or option is an error before anything is written)."""
    from actsearch.search.searchers import make_searcher

    return make_searcher(spec.searcher, space, seed=spec.seed, **searcher_options(spec, task))


def open_study(spec: SearchSpec, store: Store, *, task: Any, space: Any,
               on_event: Callable[[StudyEvent], None] | None = None, searcher: Any = None) -> Study:
    """The study of ``spec`` over ``store`` (the searcher is restored from its checkpoint by the study)."""
    from actsearch.search.screening.prescreen import PreScreen

    searcher = searcher if searcher is not None else build_searcher(spec, space, task)
    screen = PreScreen(probe_task(spec, task)) if spec.screens() else None
    return Study(store, task=spec.task, settings=spec.task_overrides, searcher=searcher, budget=spec.budget,
                 seeds=spec.seeds, references=tuple(spec.references), screen=screen,
                 threads=max(1, int(spec.cpus_per_trial)), time_limit_s=spec.time_limit_s, on_event=on_event)


def execute(study: Study, executor: str, spec: SearchSpec, run_dir: Path | None, name: str,
            ray_started: Callable[[], None] | None = None, pack: int = 1) -> bool:
    """Run the study to its end with the chosen executor, ``pack`` trials trained together per
    worker; returns whether it was interrupted."""
    if executor == "inprocess":
        from actsearch.search.runner.inprocess import InProcessExecutor

        try:
            return InProcessExecutor(pack).run(study)
        except KeyboardInterrupt:
            return True
    if ray_started is not None:  # before Ray Tune is imported: the node's agents inherit the environment
        ray_started()               # (its ownership token) as it is when Ray starts
    from actsearch.search.runner.ray_tune import RayTuneExecutor

    storage = (run_dir if run_dir is not None else Path.cwd() / ".actsearch-tune") / "tune"
    return RayTuneExecutor(storage=storage, name=f"{name}-{int(time.time())}", workers=spec.workers,
                           cpus_per_trial=spec.cpus_per_trial, gpus_per_trial=spec.gpus_per_trial,
                           scheduler=spec.scheduler, pack=pack).run(study)


def run(spec: SearchSpec, run_dir: str | Path | None, *, resume: bool = False,
        on_event: Callable[[StudyEvent], None] | None = None, executor: str = "ray",
        keep_store: bool = False, force: bool = False) -> tuple[RunSummary, Store | None]:
    """Run (or resume) a search into ``run_dir``; the summary (and the open store if ``keep_store``).

    ``force``: resume even when the task's source changed since the run started (recorded in its
    metadata; :mod:`actsearch.search.runner.source`)."""
    from actsearch.evaluators import get_task
    from actsearch.search.runner.cluster import (
        check_cluster_resources,
        check_local_resources,
        probe_address,
        start_ray,
        stop_ray,
    )
    from actsearch.search.space import load_space

    check(spec)
    spec = replace(spec, task=canonical(spec.task))  # files absolute: stored, resumed and resolved by workers alike
    if executor not in EXECUTORS:
        raise UserError(f"unknown executor {executor!r}; valid: {', '.join(EXECUTORS)}")
    run_path = None if run_dir is None else Path(run_dir)
    if not resume:
        check_new(run_path)
    if resume and run_path is not None and spec.prescreen is None and (run_path / "run.sqlite").is_file():
        with SqliteStore(run_path, readonly=True) as stored:  # not given: keep the run's setting
            spec = replace(spec, prescreen=stored.meta().get("spec", {}).get("prescreen"))
    if resume and run_path is not None and (run_path / SPACE_COPY).is_file():
        space = load_space(space_of(spec, run_path))
    else:
        space = load_space(spec.space)  # bad space, searcher or task: an error before anything is written
    task = get_task(spec.task, **spec.task_overrides)
    searcher = build_searcher(spec, space, task)
    if spec.address and spec.address != "auto" and executor == "ray":
        probe_address(spec.address)
    if not spec.address and executor == "ray":
        check_local_resources(spec.cpus_per_trial, spec.gpus_per_trial)
    store = prepare(spec, run_path, resume=resume, force=force)
    handle = None
    try:
        store.init_run({"probe": probe_settings(spec, task)})  # never silently the fallback
        study = open_study(spec, store, task=task, space=space, on_event=on_event, searcher=searcher)
        start = time.perf_counter()
        interrupted = False

        def ray_started() -> None:
            nonlocal handle
            handle = start_ray(spec.address, spec.workers, cpus_per_trial=spec.cpus_per_trial,
                               gpus_per_trial=spec.gpus_per_trial, run_dir=run_path,
                               runtime_env=runtime_env(spec.task, run_path))
            check_cluster_resources(spec.cpus_per_trial, spec.gpus_per_trial)

        try:
            if not study.finished:
                interrupted = execute(study, executor, spec, run_path, "trials", ray_started,
                                      pack=pack_size(spec, task, searcher))
        finally:
            study.close()
        if study.failure is not None:
            raise study.failure
        failures = sum(1 for r in store.candidates(task=spec.task, settings=spec.task_overrides, role="search",
                                                   include_aliases=False) if r.trained and not r.ok)
        summary = RunSummary(run_path, study.evaluated, spec.budget, study.finished, interrupted, failures,
                             time.perf_counter() - start, study.new)
        return summary, (store if keep_store else None)
    finally:
        stop_ray(handle)
        if not keep_store:
            store.close()
