"""The plain in-process driver: suggest → evaluate → report, one trial at a time.

For tests, replays (``table:FILE`` tasks) and small local runs; the distributed runner is the
Ray Tune adapter. ``run_search`` returns the trials in order and calls ``on_result`` after each,
so a caller can write results incrementally; candidates the searcher skipped (aliases, trivial
ones) go to ``on_skipped`` as they appear. So do the proposals the pre-screen rejects
(:mod:`actsearch.search.prescreen`; status ``invalid``, the reason in ``reason``): they are fed
back to the searcher as failures, never evaluated and not counted in ``budget``. The pre-screen is
on by default except for score tables (``TableTask``), which already hold every outcome.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from actsearch.evaluators.result import INVALID, CandidateResult, EvalResult
from actsearch.search.searchers.base import FINISHED, WAIT, Proposal, Searcher


@dataclass
class Trial:
    proposal: Proposal
    result: CandidateResult


def evaluate_proposal(
    proposal: Proposal,
    task: Any,
    seeds: Sequence[int] = (0,),
    *,
    threads: int = 1,
    time_limit_s: float | None = None,
) -> CandidateResult:
    """Score one proposal; a score table is read by the proposal's fingerprint (no parsing)."""
    from actsearch.evaluators.table import TableTask

    if isinstance(task, TableTask):
        row = task.lookup(proposal.fingerprint)
        runs = [
            EvalResult(INVALID, 0.0, s, 0.0, {}, "not in the score table")
            if row is None
            else EvalResult(row["status"], row["score"] if row["status"] == "ok" else 0.0, s, row["wall_s"])
            for s in seeds
        ]
        return CandidateResult.from_runs(runs)
    from actsearch.evaluators import evaluate

    return evaluate(proposal.activation(), task, seeds=tuple(seeds), threads=threads, time_limit_s=time_limit_s)


def run_search(
    searcher: Searcher,
    task: Any,
    *,
    budget: int | None = None,
    seeds: Sequence[int] = (0,),
    threads: int = 1,
    time_limit_s: float | None = None,
    on_result: Callable[[Trial], Any] | None = None,
    on_skipped: Callable[[dict[str, Any]], Any] | None = None,
    stop: Callable[[Trial], bool] | None = None,
    prescreen: bool | None = None,
) -> list[Trial]:
    """Run ``searcher`` on ``task`` until it finishes, ``budget`` trials ran, or ``stop(trial)``.

    ``task`` is a Task (or a ``TableTask``) or a task name for ``actsearch.evaluators.get_task``.
    ``prescreen``: pre-screen the proposals (None: unless ``task`` is a score table).
    """
    from actsearch.evaluators.table import TableTask
    from actsearch.search.prescreen import ProposalScreen

    if isinstance(task, str):
        from actsearch.evaluators import get_task

        task = get_task(task)
    table = isinstance(task, TableTask)
    screening = prescreen if prescreen is not None else not table
    screen = ProposalScreen(searcher, "mnist1d" if table else task) if screening else None
    trials: list[Trial] = []
    while budget is None or len(trials) < budget:
        proposal = searcher.suggest()
        for record in getattr(searcher, "pop_skipped", list)():
            if on_skipped is not None:
                on_skipped(record)
        if proposal is FINISHED:
            break
        if proposal is WAIT:  # nothing is running here, so a waiting searcher can never resume
            raise RuntimeError(f"searcher {searcher.name!r} waits with no trial running")
        why = screen(proposal) if screen is not None else None
        if why is not None:
            searcher.on_trial_complete(proposal.trial_id, score=None, status=INVALID)
            if on_skipped is not None:
                on_skipped({"expression": proposal.expression, "params": proposal.params,
                            "fingerprint": proposal.fingerprint, "status": INVALID,
                            "reason": why, "alias_of": None, "trial_id": proposal.trial_id})
            continue
        start = time.perf_counter()
        result = evaluate_proposal(proposal, task, seeds, threads=threads, time_limit_s=time_limit_s)
        if not result.wall_s:
            result.wall_s = time.perf_counter() - start
        searcher.on_trial_complete(proposal.trial_id, score=result.score, status=result.status)
        trial = Trial(proposal, result)
        trials.append(trial)
        if on_result is not None:
            on_result(trial)
        if stop is not None and stop(trial):
            break
    return trials
