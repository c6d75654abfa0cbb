"""Phases of a pipeline (``rediscover``, ``discover``) over one run store: what they share.

A pipeline is a list of named phases — a search, the re-scoring of stored rows with more seeds, a
validation — each a :class:`~actsearch.search.loop.study.Study` over the same store, run by
the same Ray Tune executor (the embedded local Ray, started on the first phase that trains
something, or the cluster at ``address``). :class:`Phases` keeps the pipeline's state under
one key of the store (``done``: the finished phases in order, ``wall_s``: each phase's wall
time, and whatever a pipeline adds, e.g. the survivors of each halving rung), so a killed pipeline
resumes by skipping finished phases; a phase in progress continues from the store like any
search (nothing stored is evaluated again). The re-scoring phases rank stored rows by the
leaderboard's own rule (:func:`~actsearch.results.leaderboard.rank_key`), so the rows they bring to
more seeds are the ones the leaderboard shows on top.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from actsearch.evaluators.result import Status
from actsearch.results.leaderboard import rank_key
from actsearch.results.records import Role
from actsearch.results.store import Store
from actsearch.search.rundir.spec import RunDirError, SearchSpec

STATE = "pipeline"
VERDICT = "verdict.json"  # a pipeline's confirmation, with its summary in words
# Measured on an idle 2-core machine (the full rediscover preset, 2 workers): its phase a took
# 1,222 s for the 320 x-gated functions and 3 references, 7.6 s of one worker per candidate-seed on
# mnist1d (Ray overhead and the fast-failing diverged ones included); fused Adam then cut training
# time to ~0.88× on a sample of x-gated candidates: 7.6 × 0.88, rounded up.
SECONDS_PER_SEED = 6.9


def ranked(store: Store, task: str, settings: dict[str, Any]) -> list[Any]:
    """The trained search rows of ``task`` with ``settings`` that finished (ok), best first, in the
    leaderboard's order (ties: smaller std, then store order); rows stopped early are left out."""
    rows = [r for r in store.candidates(task=task, settings=settings, role=Role.SEARCH, include_aliases=False)
            if r.status == Status.OK and r.trained and math.isfinite(r.score)]
    return sorted(rows, key=rank_key)


def check_preset(store: Store, name: str, run_dir: Path) -> None:
    """Refuse a run directory that holds another preset, or a plain search."""
    meta = store.meta()
    if meta.get("preset", name) != name or ("preset" not in meta and store.candidates()):
        raise RunDirError(f"{run_dir} holds {'preset ' + repr(meta['preset']) if 'preset' in meta else 'a search'}, "
                          f"not the {name!r} preset")


class Phases:
    """Runs a pipeline's phases into one store; the pipeline's state lives in the store."""

    def __init__(self, store: Store, run_dir: Path, base: SearchSpec, *, log: Callable[[str], None],
                 executor: str = "ray") -> None:
        self.store, self.run_dir, self.base, self.log = store, run_dir, base, log
        self.executor = executor  # "ray" (the pipelines), or "inprocess" (no Ray: a table task, a test)
        self.state: dict[str, Any] = store.load_state(STATE) or {"done": [], "wall_s": {}}
        self.handle: Any = None
        self._tasks: dict[tuple, Any] = {}  # (task, settings) -> Task, for the pack size

    def done(self, phase: str) -> bool:
        return phase in self.state["done"]

    def save(self, phase: str, started: float) -> None:
        """Mark ``phase`` finished (its wall time adds to a previous, interrupted attempt's)."""
        self.state["done"].append(phase)
        self.state["wall_s"][phase] = round(self.state["wall_s"].get(phase, 0.0) + time.perf_counter() - started, 1)
        self.store.save_state(STATE, self.state)

    def keep(self) -> None:
        """Store the state now (e.g. a rung's survivors, before the rung starts)."""
        self.store.save_state(STATE, self.state)

    def _ray_started(self) -> None:
        from actsearch.search.infra.cluster import start_ray

        if self.handle is None:  # Ray starts only when there is something to evaluate
            self.handle = start_ray(self.base.address, self.base.workers, run_dir=self.run_dir)

    def _pack(self, study: Any, seeds: int) -> int:
        """The pack size of a phase's trials (``seeds`` per trial; a rescore adds a few): what
        :func:`pack_size` gives on the study's task, its searcher's batch split over the workers."""
        from dataclasses import replace

        from actsearch.search.rundir.spec import pack_size

        return pack_size(replace(self.base, seeds=seeds), self._task(study.task, study.settings), study.searcher)

    def _task(self, name: str, settings: dict[str, Any]) -> Any:
        from actsearch.evaluators import get_task

        key = (name, tuple(sorted(settings.items())))
        if key not in self._tasks:
            self._tasks[key] = get_task(name, **settings)
        return self._tasks[key]

    def run(self, study: Any, phase: str, seeds: int = 1) -> bool:
        """Run one study to its end (trials of ``seeds`` seeds, trained in packs where the task
        batches); False when it was interrupted."""
        from actsearch.search.rundir.run import execute

        try:
            interrupted = study.finished is False and execute(study, self.executor, self.base, self.run_dir, phase,
                                                              self._ray_started, pack=self._pack(study, seeds))
        finally:
            study.close()
        if study.failure is not None:
            raise study.failure
        return not interrupted

    def search(self, spec: SearchSpec, phase: str) -> bool:
        """A search phase (``spec``'s searcher, space, budget and task); marks it done when it ends."""
        from actsearch.search.rundir.run import open_study
        from actsearch.search.rundir.scheduler import resolve_scheduler
        from actsearch.search.space import load_space

        if spec.scheduler:  # a phase's own scheduler (halving: checked against its task)
            spec, _ = resolve_scheduler(spec, self._task(spec.task, spec.task_overrides))
        started = time.perf_counter()
        total = spec.budget if spec.budget < 1_000_000 else "all"  # the whole space
        study = open_study(spec, self.store, task=None, space=load_space(spec.space), on_event=lambda e: self.log(
            f"[{phase} {e.evaluated}/{total}] {e.status:<8} {e.score:.4f}  {e.expression}"))
        if not self.run(study, phase):
            return False
        self.save(phase, started)
        return True

    def rescore(self, rows: list[Any], seeds: int, phase: str, task: str, settings: dict[str, Any]) -> bool:
        """Bring stored rows to seeds 0 .. seeds − 1 (rows updated in place); not marked done."""
        from actsearch.search.loop.study import Study

        study = Study(self.store, task=task, settings=settings, on_event=lambda e: self.log(
            f"[rescore {e.rescored} seeds] {e.status:<8} {e.score:.4f} ± {e.score_std:.4f}  {e.expression}"))
        study.rescore(rows, seeds)
        added = max((len(job.seeds) for job in study.rescoring.queued), default=1)
        return self.run(study, phase, added)

    def top_up(self, top: int, seeds: int, phase: str, task: str, settings: dict[str, Any]) -> bool:
        """Bring the top ``top`` of the final ranking to ``seeds`` seeds: re-score the ones that lack
        them, rank again (a lucky 1-seed score falls, a row below rises into the top) and repeat until
        the top ``top`` all have ``seeds``, one line per round. Every round completes at least one
        row (it has the seeds, or it failed and left the ranking), so the rounds are bounded by the
        rows. Resumes like :meth:`rescore` (a stored seed is not trained again); not marked done.
        False when interrupted."""
        bound = max(1, len(ranked(self.store, task, settings)))
        for round_no in range(1, bound + 1):
            short = [r for r in ranked(self.store, task, settings)[:top] if len(r.seeds) < seeds]
            if not short:
                return True
            self.log(f"{phase} round {round_no}: {len(short)} of the top {top} to {seeds} seeds")
            if not self.rescore(short, seeds, phase, task, settings):
                return False
        self.log(f"{phase}: stopped after {bound} rounds")
        return True

    def halving(self, rungs: tuple[tuple[int, int], ...], task: str, settings: dict[str, Any]) -> bool:
        """Successive halving: rung k keeps the best ``n`` of rung k − 1 (of all, for the first) and
        brings them to ``seeds``; the last rung brings the references along. A rung's survivors are
        chosen once and stored before it starts. False when interrupted."""
        survivors = self.state.setdefault("rungs", {})
        for k, (n, seeds) in enumerate(rungs):
            phase = f"rung{k + 1}"
            if self.done(phase):
                continue
            started = time.perf_counter()
            if phase not in survivors:  # chosen once, from the previous rung's scores, then stored
                pool = ranked(self.store, task, settings)
                if k:
                    keep = set(survivors[f"rung{k}"])
                    pool = [r for r in pool if r.id in keep]
                survivors[phase] = [r.id for r in pool[:n]]
                self.keep()
            ids = set(survivors[phase])
            rows = [r for r in self.store.candidates(task=task, settings=settings, include_aliases=False)
                    if r.id in ids]
            if k == len(rungs) - 1:
                rows += self.store.candidates(task=task, settings=settings, role=Role.REFERENCE, include_aliases=False)
            self.log(f"phase b, {phase}: {len(ids)} candidates to {seeds} seeds")
            if not self.rescore(rows, seeds, phase, task, settings):
                return False
            self.save(phase, started)
        return True

    def confirm(self, *, top: int, seeds: int, references: tuple[str, ...]) -> dict[str, Any] | None:
        """The last phase: the top ``top`` of the search and ``references`` on ``seeds`` fresh seeds,
        on the pipeline's task, tested (:func:`~actsearch.search.pipelines.confirm.confirm_in`), on the
        pipeline's Ray. Returns the verdict as JSON with its ``summary`` in words, also written to
        ``RUN_DIR/verdict.json``; None when interrupted (what finished is stored; a resume trains
        only the rest). A run that allows no test (no successful candidate, a reference that
        failed its seeds) ends with a summary that says why, not an error."""
        from actsearch.results.findings import in_words, scope_of, verdict_table
        from actsearch.results.rundir import write_atomic
        from actsearch.search.pipelines.confirm import ConfirmError, ConfirmInterrupted, confirm_in

        started = time.perf_counter()
        self.log(f"confirm: the top {top} and {', '.join(references)} on {seeds} fresh seeds")
        try:
            result = confirm_in(self.store, self.run_dir, self.base, lambda study, n: self.run(study, "confirm", n),
                                top=top, against=references, seeds=seeds,
                                progress=lambda msg: self.log(f"[confirm] {msg}"))
        except ConfirmInterrupted:
            return None
        except ConfirmError as err:  # e.g. every candidate failed: the pipeline ends saying so
            result = None
            doc = {"comparisons": [], "candidates": [], "summary": [f"No verdict: {err}."]}
        if not self.done("confirm"):
            self.save("confirm", started)
        if result is not None:
            doc = result.to_json()
            doc["summary"] = in_words(doc["comparisons"], where=scope_of(doc))
        write_atomic(self.run_dir / VERDICT, (json.dumps(doc, indent=2, allow_nan=False) + "\n").encode())
        for line in verdict_table(doc).splitlines() if result is not None else doc["summary"]:
            self.log(line)
        return doc

    def close(self) -> None:
        from actsearch.search.infra.cluster import stop_ray

        stop_ray(self.handle)
        self.handle = None
