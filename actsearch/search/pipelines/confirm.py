"""Confirm the winners: the top K of a run and the references trained on fresh seeds, then tested.

The search scored each candidate on seeds 0 .., and picked the top K by those scores, so their
scores overstate them (the winner's curse). A confirmation trains the top K and each reference on
seeds ``CONFIRM_SEED_BASE`` .. ``CONFIRM_SEED_BASE + N − 1`` (a range no search, rescore or
validation uses), stores them with role ``confirmation`` (so search, validation and confirmation
scores never mix), and compares every candidate with every reference by
:func:`actsearch.results.verdict.confirm_scores` (paired t test, Holm-adjusted).

Pairing: the built-in tasks and user tasks derive data order and initialisation from the seed, so
a candidate's seed s and a reference's seed s share them: the comparison is paired. One
:class:`Study` over the run's store with a fixed list of proposals, run in this process (one
worker) or as Ray Tune trials like a search's (``workers`` > 1 or an ``address``); a
function already confirmed on the task and settings only trains the seeds it lacks, so an
interrupted confirmation can simply be run again. What was compared (alpha, seeds, task,
candidates, references) goes to the run's metadata key ``confirm``, from which the leaderboard,
``show`` and the report rebuild the verdict (:mod:`actsearch.results.verdicts`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from actsearch.errors import UserError
from actsearch.evaluators.result import Status
from actsearch.results.records import CONFIRM_SEED_BASE, REFERENCES, Role, TrialState, task_label
from actsearch.results.store import SqliteStore
from actsearch.results.verdict import (
    DEFAULT_ALPHA,
    Confirmed,
    check_alpha,
    confirm_scores,
    planned_looks,
    until_decided,
)
from actsearch.results.verdicts import confirm_meta
from actsearch.search.loop.study import Study
from actsearch.search.loop.trials import StudyEvent
from actsearch.search.pipelines.validate import FixedList
from actsearch.search.searchers.base import Proposal

PAIRED = True  # every task trains seed-deterministically (data order, initialisation): see the docstring


class ConfirmError(UserError):
    """Options or a run that allow no confirmation."""


def confirm_seeds(n: int) -> tuple[int, ...]:
    """The seeds of a confirmation with ``n`` seeds."""
    return tuple(range(CONFIRM_SEED_BASE, CONFIRM_SEED_BASE + n))


def check_options(top: int, seeds: int, alpha: float, against: Sequence[str] | None) -> None:
    """One-line errors for options that allow no confirmation (before anything is read or trained)."""
    from actsearch.grammar.library import NAMES

    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ConfirmError(f"--top must be at least 1, got {top!r}")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 2:
        raise ConfirmError(f"no test possible with one seed: --seeds must be at least 2, got {seeds!r}")
    check_alpha(alpha)
    if against is not None:
        if not against:
            raise ConfirmError("--against names no reference")
        unknown = [name for name in against if name not in NAMES]
        if unknown:
            raise ConfirmError(f"unknown reference {unknown[0]!r}; known: {', '.join(NAMES)}")


def _ok_scores(runs: list[dict[str, Any]], seeds: tuple[int, ...]) -> dict[int, float]:
    """seed -> score of the runs that finished ok on the wanted seeds."""
    out = {}
    for r in runs:
        seed, score = r.get("seed"), r.get("score")
        if r.get("status") == Status.OK and seed in seeds and isinstance(score, (int, float)) and math.isfinite(score):
            out[int(seed)] = float(score)
    return out


class ConfirmInterrupted(UserError):
    """The trainings were stopped (Ctrl-C, a stopped Ray): what finished is stored."""


RunStudy = Callable[[Study, int], bool]  # (study, seeds a trial trains) -> finished (False: interrupted)


def confirm(run_dir: str | os.PathLike, *, top: int = 5, against: Sequence[str] | None = None, seeds: int = 10,
            alpha: float = DEFAULT_ALPHA, task: str | None = None, overrides: dict[str, Any] | None = None,
            max_seeds: int | None = None, threads: int = 1, time_limit_s: float | None = None,
            workers: int = 1, address: str | None = None,
            progress: Callable[[str], None] | None = None) -> Confirmed:
    """Train what is missing, then the verdict of the top ``top`` against ``against`` (default: the
    run's references) on ``seeds`` fresh seeds. ``task`` (default: the run's) with ``overrides``
    (added to the run's settings when the task is the run's). ``max_seeds``: until decided — add
    ``seeds`` more at a time up to ``max_seeds`` until every comparison has a verdict
    (:func:`actsearch.results.verdict.until_decided`). ``workers`` > 1 or an ``address``: the
    trainings run as Ray Tune trials (embedded local Ray, or the cluster at ``address``), as a
    search's do; one worker and no address: in this process."""
    from dataclasses import replace

    from actsearch.search.infra.cluster import start_ray, stop_ray
    from actsearch.search.loop.inprocess import InProcessExecutor
    from actsearch.search.rundir.run import execute
    from actsearch.search.rundir.spec import spec_from_store

    check_options(top, seeds, alpha, against)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfirmError(f"--workers must be at least 1, got {workers!r}")
    if max_seeds is not None:
        planned_looks(seeds, max_seeds)
    spec = spec_from_store(run_dir)
    on_ray = workers > 1 or bool(address)
    ray_spec = replace(spec, workers=workers, address=address or None, scheduler=None)  # no early stopping
    handle: list[Any] = []

    def ray_started() -> None:
        if not handle:  # Ray starts once, for the first batch that trains something
            handle.append(start_ray(address or None, workers, cpus_per_trial=spec.cpus_per_trial,
                                    gpus_per_trial=spec.gpus_per_trial, run_dir=Path(run_dir)))

    def run_study(study: Study, _seeds: int) -> bool:
        try:
            if on_ray:
                return study.finished or not execute(study, "ray", ray_spec, Path(run_dir), "confirm", ray_started)
            return not InProcessExecutor().run(study)
        finally:
            study.close()

    try:
        with SqliteStore(Path(run_dir)) as store:
            return confirm_in(store, run_dir, spec, run_study, top=top, against=against, seeds=seeds, alpha=alpha,
                              task=task, overrides=overrides, max_seeds=max_seeds, threads=threads,
                              time_limit_s=time_limit_s, progress=progress)
    finally:
        stop_ray(handle[0] if handle else None)


def confirm_in(store: Any, run_dir: str | os.PathLike, spec: Any, run_study: RunStudy, *, top: int = 5,
               against: Sequence[str] | None = None, seeds: int = 10, alpha: float = DEFAULT_ALPHA,
               task: str | None = None, overrides: dict[str, Any] | None = None, max_seeds: int | None = None,
               threads: int = 1, time_limit_s: float | None = None,
               progress: Callable[[str], None] | None = None) -> Confirmed:
    """:func:`confirm` on an open, writable ``store`` of the run ``spec``; ``run_study`` trains a
    study (a pipeline passes its own executor, so the confirmation runs on the pipeline's Ray).
    Raises :class:`ConfirmInterrupted` when a training batch was interrupted."""
    from actsearch.evaluators import get_task
    from actsearch.results.run import Run
    from actsearch.search.space.dedup import analyse

    check_options(top, seeds, alpha, against)
    refs = tuple(against) if against is not None else (tuple(spec.references) or REFERENCES)
    if task is None or task == spec.task:
        task, settings = spec.task, {**spec.task_overrides, **(overrides or {})}
    else:
        settings = dict(overrides or {})
    get_task(task, **settings)  # an unknown task or setting: an error before anything is written
    label = task_label(task, settings)
    try:
        board = Run(store=store).leaderboard(top=top, task=task_label(spec.task, spec.task_overrides),
                                             properties=False)
    except UserError:  # no row at all on the run's task
        board = []
    entries = [e for e in board if e.rank is not None]
    if not entries:
        raise ConfirmError(f"{run_dir} has no successful search candidate to confirm")
    todo = [Proposal(e.expression, dict(e.params)) for e in entries]
    keys = [analyse(p.expression, p.params)[0] for p in todo]

    def said(e: StudyEvent) -> None:
        if progress:
            progress(f"{e.expression}: {e.status} {e.score:.4f} ± {e.score_std:.4f}")

    def train(n: int) -> dict[str, dict[int, float]]:
        """Train what is missing on seeds 1000 .. 1000+n−1; the ok scores by function."""
        wanted = confirm_seeds(n)
        stored = store.candidates(task=task, settings=settings, role=Role.CONFIRMATION, include_aliases=False)
        budget = len(todo) + sum(1 for r in stored if r.trained and r.reference is None)  # earlier ones
        study = Study(store, task=task, settings=settings, searcher=FixedList(todo), budget=budget,
                      seeds=wanted, role=Role.CONFIRMATION, references=refs, threads=threads,
                      time_limit_s=time_limit_s, on_event=said)
        study.rescore([r for r in stored if r.state == TrialState.DONE and (r.reference in refs or r.fingerprint in keys)],
                      wanted)
        finished = run_study(study, n)
        if study.failure is not None:
            raise study.failure
        if not finished:
            raise ConfirmInterrupted("the confirmation was interrupted; what finished is stored: "
                                     "run the same command again to continue")
        rows = store.candidates(task=task, settings=settings, role=Role.CONFIRMATION, include_aliases=False)
        by_fp = {r.fingerprint: r for r in rows if r.reference is None}
        by_ref = {r.reference: r for r in rows if r.reference is not None}
        out: dict[str, dict[int, float]] = {}
        for name in refs:
            rec = by_ref.get(name)
            out[name] = _ok_scores(rec.runs if rec else [], wanted)
            if len(out[name]) < 2:
                raise ConfirmError(f"the reference {name} trained on fewer than 2 of the seeds on {label}; "
                                   "no test possible")
        for entry, key in zip(entries, keys, strict=True):
            rec = by_fp.get(key)
            out.setdefault(entry.expression, _ok_scores(rec.runs if rec else [], wanted))
        return out

    return _verdict(train, entries, refs, seeds=seeds, max_seeds=max_seeds, alpha=alpha, label=label,
                    store=store, progress=progress, curse=task == spec.task)


def _verdict(train: Callable[[int], dict[str, dict[int, float]]], entries: list[Any], refs: tuple[str, ...], *,
             seeds: int, max_seeds: int | None, alpha: float, label: str, store: Any,
             progress: Callable[[str], None] | None, curse: bool = True) -> Confirmed:
    """Train the first ``seeds`` seeds (more when until decided), test, store what was compared.
    ``curse``: the confirmation is on the search's own task, so the search scores measure the
    winner's curse; on another task they are on another scale and are left out."""
    scores = train(seeds)
    candidates, search_scores = [], {}
    for entry in entries:
        if entry.expression in refs or entry.expression in search_scores:
            continue
        if len(scores[entry.expression]) < 2:
            if progress:
                progress(f"{entry.expression}: trained on fewer than 2 seeds on {label}; left out")
            continue
        candidates.append(entry.expression)
        search_scores[entry.expression] = entry.score if curse else None
    if not candidates:
        raise ConfirmError(f"no candidate trained on at least 2 seeds on {label}; no test possible")
    if max_seeds is not None:
        result = until_decided(train, candidates, refs, seeds=seeds, max_seeds=max_seeds, alpha=alpha,
                               paired=PAIRED, task=label, search_scores=search_scores)
    else:
        result = confirm_scores(scores, candidates, refs, alpha=alpha, paired=PAIRED, task=label,
                                search_scores=search_scores)
    store.init_run({"confirm": confirm_meta(result, refs, result.looks)})  # what the views need to rebuild it
    return result
