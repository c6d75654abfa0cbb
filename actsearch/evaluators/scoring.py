"""Score one candidate on one task over several seeds: the evaluators' public entry point.

``evaluate(candidate, task, seeds)`` runs :meth:`Task.run_seed` per seed — or, where the task
batches, all seeds as one stacked network (:mod:`~actsearch.evaluators.training.packs`) — and
forwards progress to ``report(iteration, score)`` with iterations increasing across seeds (seed
``i``'s checkpoint ``k`` is iteration ``i * checkpoints + k``), and folds the seeds into a
:class:`CandidateResult` with the reproducibility metric ``pd`` (prediction difference between
seed models) when two or more seeds finish. A trivial candidate is rejected once, before any training.
``evaluate_pack(candidates, task, seeds)`` does the same for several candidates at once (one
stacked network for all their seeds where the task batches), one result per candidate.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from typing import Any

from actsearch.evaluators.candidate import as_candidate
from actsearch.evaluators.metrics import prediction_difference
from actsearch.evaluators.result import INVALID, OK, CandidateResult, EvalResult
from actsearch.evaluators.task import Task, as_task_object
from actsearch.evaluators.training.loop import Report

SUMMARY_KEYS = ("val_acc", "test_acc", "val_loss", "test_loss", "train_loss", "dnr", "steps_per_s")


def evaluate(candidate: Any, task: str | Task, seeds: Iterable[int] = (0,), *, report: Report | None = None,
             threads: int = 1, time_limit_s: float | None = None, params: dict[str, float] | None = None,
             **overrides: Any) -> CandidateResult:
    """Train ``candidate`` (Activation, text, library name or module factory) once per seed.

    ``task`` is a name (with ``overrides`` for its config) or a :class:`Task`. ``time_limit_s``
    applies to each seed. Failures are statuses in the result, never exceptions; user errors
    (bad expression text, unknown task) raise :class:`~actsearch.errors.UserError`. On a task
    with a batched form (``batched=true``: by default the MNIST-1D MLPs; the transfer networks
    without batch norm when set) the seeds train as one stacked network; the results are the same,
    one per seed.
    """
    return evaluate_pack([candidate], task, seeds, reports=[report], threads=threads,
                         time_limit_s=time_limit_s, params=params, **overrides)[0]


def evaluate_pack(candidates: Sequence[Any], task: str | Task, seeds: Iterable[int] = (0,), *,
                  reports: Sequence[Report | None] | None = None, threads: int = 1,
                  time_limit_s: float | None = None, params: dict[str, float] | None = None,
                  **overrides: Any) -> list[CandidateResult]:
    """:func:`evaluate` for G candidates at once: one :class:`CandidateResult` per candidate.

    Where the task batches (see :meth:`ClassificationTask.run_pack`), the G × S members of the
    candidates that have a batched form train as one stacked network; the others, and every
    candidate on another task, train seed by seed. ``reports[c]`` gets candidate c's progress,
    numbered and ordered as in :func:`evaluate`: in a pack, seed 0's checkpoints are reported as
    they happen and the other seeds' when the pack finishes. An exception from a report stops the
    whole pack (as it stops the seed-by-seed loop).
    """
    from actsearch.evaluators.lookup import get_task

    if not isinstance(task, str) and overrides:
        raise TypeError("task settings are overrides of a task name; pass get_task(name, **settings)")
    from actsearch.limits import check

    check("time_limit", time_limit_s, label="time_limit_s")
    task_obj = get_task(task, **overrides) if isinstance(task, str) else as_task_object(task)
    cands = [as_candidate(c, **(params or {})) for c in candidates]
    reports = list(reports) if reports is not None else [None] * len(cands)
    seeds = list(seeds)
    per_seed = task_obj.checkpoints
    hooks = [[_numbered(r, i * per_seed) for i in range(len(seeds))] for r in reports]
    out: list[list[tuple[EvalResult, Any]] | None] = [None] * len(cands)
    for c, cand in enumerate(cands):
        if cand.invalid:
            out[c] = [(EvalResult(INVALID, 0.0, s, 0.0, {}, f"trivial candidate: {cand.invalid}"), None)
                      for s in seeds]
    packed = [c for c, cand in enumerate(cands) if out[c] is None and task_obj.batchable(cand)]
    if packed:
        # seed 0 reports live; the other seeds' reports follow when the pack ends, so the order of
        # the calls is that of the seed-by-seed path (ASHA's rungs see the same sequence)
        deferred = {c: [_Deferred(h) if i and h is not None else h for i, h in enumerate(hooks[c])]
                    for c in packed}
        runs = task_obj.run_pack([cands[c] for c in packed], seeds, reports=[deferred[c] for c in packed],
                                 threads=threads, time_limit_s=time_limit_s)
        for c, per in zip(packed, runs or [None] * len(packed), strict=True):
            out[c] = per
            for hook in deferred[c]:
                if isinstance(hook, _Deferred) and per is not None:
                    hook.flush()
    for c, cand in enumerate(cands):
        if out[c] is None:
            out[c] = [task_obj.run_seed(cand, seed, report=hooks[c][i], threads=threads, time_limit_s=time_limit_s)
                      for i, seed in enumerate(seeds)]
    return [fold(per, task_obj.summary_keys) for per in out]


def _numbered(report: Report | None, base: int) -> Report | None:
    """``report`` with seed i's checkpoint k numbered ``base + k``."""
    if report is None:
        return None

    def hook(k: int, score: float) -> None:
        report(base + k, score)

    return hook


class _Deferred:
    """A report that holds its calls until :meth:`flush`."""

    def __init__(self, report: Report) -> None:
        self.report, self.calls = report, []

    def __call__(self, k: int, score: float) -> None:
        self.calls.append((k, score))

    def flush(self) -> None:
        for k, score in self.calls:
            self.report(k, score)
        self.calls.clear()


def fold(per_seed: Sequence[tuple[EvalResult, Any]], extra_keys: Sequence[str] = ()) -> CandidateResult:
    """One candidate's seed runs (with test predictions) as a :class:`CandidateResult`, with ``pd``
    across the seeds that finished and the mean of each summary metric (``SUMMARY_KEYS`` and the
    task's ``extra_keys``) over them."""
    runs = [r for r, _ in per_seed]
    preds = [p for r, p in per_seed if r.status == OK and p is not None]
    metrics: dict[str, Any] = {}
    pd = prediction_difference(preds)
    if pd is not None:
        metrics["pd"] = pd
    ok = [r for r in runs if r.status == OK]
    for key in (*SUMMARY_KEYS, *extra_keys):
        values = [r.metrics[key] for r in ok if isinstance(r.metrics.get(key), (int, float))]
        if values:
            metrics[key] = statistics.fmean(values)
    return CandidateResult.from_runs(runs, metrics)
