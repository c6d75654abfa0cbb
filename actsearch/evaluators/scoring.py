"""Score one candidate on one task over several seeds: the evaluators' public entry point.

``evaluate(candidate, task, seeds)`` runs :meth:`Task.run_seed` per seed, forwards progress to
``report(iteration, score)`` with iterations increasing across seeds (seed ``i``'s checkpoint
``k`` is iteration ``i * checkpoints + k``), and folds the seeds into a :class:`CandidateResult`
with the reproducibility metric ``pd`` (prediction difference between seed models) when two or
more seeds finish. A trivial candidate is rejected once, before any training.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

from actsearch.evaluators.candidate import as_candidate
from actsearch.evaluators.metrics import prediction_difference
from actsearch.evaluators.result import INVALID, OK, CandidateResult, EvalResult
from actsearch.evaluators.task import Task
from actsearch.evaluators.train import Report

SUMMARY_KEYS = ("val_acc", "test_acc", "val_loss", "test_loss", "train_loss", "dnr", "steps_per_s")


def evaluate(candidate: Any, task: str | Task, seeds: Iterable[int] = (0,), *, report: Report | None = None,
             threads: int = 1, time_limit_s: float | None = None, params: dict[str, float] | None = None,
             **overrides: Any) -> CandidateResult:
    """Train ``candidate`` (Activation, text, library name or module factory) once per seed.

    ``task`` is a name (with ``overrides`` for its config) or a :class:`Task`. ``time_limit_s``
    applies to each seed. Failures are statuses in the result, never exceptions; user errors
    (bad expression text, unknown task) raise :class:`~actsearch.errors.UserError`.
    """
    from actsearch.evaluators.tasks import get_task

    if not isinstance(task, str) and overrides:
        raise TypeError("task settings are overrides of a task name; pass get_task(name, **settings)")
    from actsearch.limits import check

    check("time_limit", time_limit_s, label="time_limit_s")
    task_obj = get_task(task, **overrides) if isinstance(task, str) else task
    cand = as_candidate(candidate, **(params or {}))
    seeds = list(seeds)
    if cand.invalid:
        runs = [EvalResult(INVALID, 0.0, s, 0.0, {}, f"trivial candidate: {cand.invalid}") for s in seeds]
        return CandidateResult.from_runs(runs)
    per_seed = max(1, int(getattr(task_obj.config, "checkpoints", 1) or 1))
    runs, preds = [], []
    for i, seed in enumerate(seeds):
        hook = None
        if report is not None:
            def hook(k: int, score: float, base: int = i * per_seed) -> None:
                report(base + k, score)
        run_seed = getattr(task_obj, "run_seed", None)
        if run_seed is not None:
            result, pred = run_seed(cand, seed, report=hook, threads=threads, time_limit_s=time_limit_s)
        else:  # a task that only implements the contract (e.g. a lookup table)
            result, pred = task_obj.evaluate_seed(cand, seed, report=hook, threads=threads,
                                                  time_limit_s=time_limit_s), None
        runs.append(result)
        if result.status == OK and pred is not None:
            preds.append(pred)
    metrics: dict[str, Any] = {}
    pd = prediction_difference(preds)
    if pd is not None:
        metrics["pd"] = pd
    ok = [r for r in runs if r.status == OK]
    for key in SUMMARY_KEYS:
        values = [r.metrics[key] for r in ok if isinstance(r.metrics.get(key), (int, float))]
        if values:
            metrics[key] = statistics.fmean(values)
    return CandidateResult.from_runs(runs, metrics)
