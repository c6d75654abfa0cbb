"""Validate the winners: the top K of a run (plus relu, gelu and swish) trained again on another task
or with more seeds, stored with role ``validation`` — one :class:`Study` over the run's store.

The Swish paper checked its top functions on bigger networks; here the top K of a run's
leaderboard and the references go through the same loop as any search (a fixed list of proposals,
the in-process executor), on ``task`` with ``settings`` and seeds 0..N−1. A function already
validated on that task and settings is skipped, so an interrupted validation can simply be run
again. Writing takes the store's writer lock: validation waits until the search has finished.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actsearch.errors import UserError
from actsearch.evaluators.result import Status
from actsearch.results.records import REFERENCES, Role, task_label
from actsearch.results.store import SqliteStore
from actsearch.search.loop.study import Study
from actsearch.search.loop.trials import StudyEvent
from actsearch.search.searchers.base import FINISHED, Outcome, Proposal, Searcher, _Sentinel

# A validated candidate's status when nothing was trained for it now
SKIPPED = "skipped"  # validated on that task and settings before
MISSING = "missing"  # no stored row (it could not be proposed)


@dataclass
class Validated:
    """One validated candidate: what was stored (or ``skipped``: validated before)."""

    expression: str
    task: str  # the label: name[k=v,...]
    status: Status | str  # the stored row's status, SKIPPED (validated before) or MISSING (not stored)
    score: float | None
    score_std: float | None
    id: int | None
    seeds: int


class FixedList(Searcher):
    """Proposes a given list once, in order (the candidates of a validation)."""

    name = "validate"

    def __init__(self, proposals: list[Proposal]) -> None:
        super().__init__()
        self.proposals, self.position = proposals, 0

    def ask(self, proposal_id: int) -> Proposal | _Sentinel:
        if self.position >= len(self.proposals):
            return FINISHED
        self.position += 1
        return self.proposals[self.position - 1]

    def tell(self, proposal_id: int, outcome: Outcome) -> None:
        pass

    def state(self) -> dict[str, Any]:
        return {}

    def load_state(self, state: dict[str, Any]) -> None:
        pass


def candidates_to_validate(run: Any, top: int | None, source_task: str | None = None) -> list[Proposal]:
    """The top-K ranked functions of ``run`` as proposals (``top`` None: all of them)."""
    board = run.leaderboard(top=top, task=source_task, properties=False)
    return [Proposal(e.expression, dict(e.params)) for e in board if e.rank is not None]


def validate(run_dir: str | os.PathLike, task: str, *, top: int | None = 3, seeds: int = 3,
             overrides: dict[str, Any] | None = None, source_task: str | None = None, references: bool = True,
             threads: int = 1, time_limit_s: float | None = None,
             progress: Callable[[str], None] | None = None) -> list[Validated]:
    """Evaluate and store; one :class:`Validated` per candidate (the references last)."""
    from actsearch.evaluators import get_task
    from actsearch.results.run import Run
    from actsearch.search.loop.inprocess import InProcessExecutor
    from actsearch.search.space.dedup import analyse

    if (top is not None and top < 0) or seeds < 1:
        raise UserError("--top must be ≥ 0 and --seeds ≥ 1")
    settings = dict(overrides or {})
    get_task(task, **settings)  # an unknown task or setting: an error before anything is written
    label = task_label(task, settings)
    with Run(run_dir) as run:
        todo = candidates_to_validate(run, top, source_task)
    refs = tuple(REFERENCES) if references else ()

    def said(e: StudyEvent) -> None:
        if progress:
            progress(f"{e.expression}: {e.status} {e.score:.4f} ± {e.score_std:.4f} ({seeds} seeds)")

    with SqliteStore(Path(run_dir)) as store:
        before = {(r.reference or analyse(r.expression, r.params)[0]) for r in
                  store.candidates(task=task, settings=settings, role=Role.VALIDATION, include_aliases=False)}
        study = Study(store, task=task, settings=settings, searcher=FixedList(todo), budget=len(todo), seeds=seeds,
                      role=Role.VALIDATION, references=refs, threads=threads, time_limit_s=time_limit_s, on_event=said)
        InProcessExecutor().run(study)
        study.close()
        if study.failure is not None:
            raise study.failure
        rows = store.candidates(task=task, settings=settings, role=Role.VALIDATION, include_aliases=False)
    by_fp = {r.fingerprint: r for r in rows if r.reference is None}
    by_ref = {r.reference: r for r in rows if r.reference is not None}
    out = []
    for key, text, rec in [(analyse(p.expression, p.params)[0], p.expression, None) for p in todo] + \
            [(name, name, None) for name in refs]:
        rec = by_ref.get(key) if key in refs else by_fp.get(key)
        skipped = key in before
        if skipped and progress:
            progress(f"{text}: already validated on {label}")
        out.append(Validated(text, label, SKIPPED if skipped else (rec.status if rec else MISSING),
                             None if skipped or rec is None else rec.score,
                             None if skipped or rec is None else rec.score_std, rec.id if rec else None, seeds))
    return out
