"""Drive a searcher through the real loop, one proposal at a time (for searcher-level tests).

``make_searcher(...)`` here returns a :class:`Looped`: the registered searcher behind a real
:class:`~actsearch.search.loop.study.Study` over an in-memory store (no references, no
pre-screen). ``suggest()`` hands out the next trial (the loop has already stored aliases and
trivial candidates and told the searcher), ``on_trial_complete(trial_id, score, status)`` is the
executor finishing it. ``save``/``restore`` checkpoint the study's store and searcher, as a resumed
run would reopen them.
"""

from __future__ import annotations

import copy
import pickle
from dataclasses import dataclass
from typing import Any

from actsearch.evaluators.result import CandidateResult, EvalResult
from actsearch.results.memory import MemoryStore
from actsearch.search import searchers as _registry
from actsearch.search.loop.study import Study
from actsearch.search.loop.trials import TrialConfig, TrialEvent
from actsearch.search.searchers import FINISHED, SEARCHERS, WAIT  # noqa: F401 - re-exported for tests

BIG = 10**9


@dataclass
class Handed:
    """A trial the loop handed out, with the searcher's proposal."""

    trial_id: int
    pid: int  # the loop's proposal id (what a mutation's ``parent`` names)
    expression: str
    fingerprint: str
    params: dict[str, float]
    tokens: list[int] | None
    origin: str | None
    parent: int | None
    prediction: Any
    config: TrialConfig

    def activation(self):  # noqa: ANN201
        from actsearch.grammar import parse

        return parse(self.expression, **self.params)


class Looped:
    def __init__(self, searcher: Any, store: MemoryStore | None = None) -> None:
        self.searcher, self.store = searcher, store or MemoryStore()
        self.proposals: dict[int, Any] = {}
        ask = searcher.ask

        def recording_ask(pid: int) -> Any:
            p = ask(pid)
            if not isinstance(p, type(WAIT)):
                self.proposals[pid] = p
            return p

        searcher.ask = recording_ask
        self.study = Study(self.store, task="replay", searcher=searcher, budget=BIG, checkpoint_every=1)
        self.live: dict[int, TrialConfig] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.searcher, name)

    def suggest(self) -> Any:
        config = self.study.next_trial()
        if config is FINISHED or config is WAIT:
            return config
        self.live[config.key] = config
        pid = self.study.waiting[config.key][0]
        p = self.proposals[pid]
        return Handed(config.key, pid, p.expression, config.fingerprint, dict(p.params), p.tokens, p.origin,
                      p.parent, p.prediction, config)

    def on_trial_complete(self, trial_id: int, score: float | None, status: str = "ok") -> None:
        config = self.live.pop(trial_id, None)
        if config is None:
            return
        value = 0.0 if score is None else score
        result = CandidateResult.from_runs([EvalResult(status, value, 0)])
        result.score = value  # as reported (NaN and inf included)
        self.study.complete(TrialEvent(config, result, status))

    def save(self, path: str) -> None:
        self.study.close()
        with open(path, "wb") as fh:
            pickle.dump(self.store, fh)

    def restore(self, path: str) -> None:
        with open(path, "rb") as fh:
            store = pickle.load(fh)
        fresh = Looped(self.searcher, store)
        for key, config in copy.copy(fresh.study.inflight).items():
            fresh.live[key] = config
        self.__dict__.update(fresh.__dict__)
        for row in store.pending():
            self.live[row.id] = self.study.trial_config(row.id, row.expression, row.fingerprint, row.params)
        self.study.reruns.clear()
        for key, config in self.live.items():
            self.study.inflight[key] = config

    def state(self) -> dict[str, Any]:
        return self.searcher.state()


def make_searcher(name: str, space: Any, *, seed: int = 0, **kw: Any) -> Looped:
    return Looped(_registry.make_searcher(name, space, seed=seed, **kw))


@dataclass
class Trial:
    proposal: Handed
    result: CandidateResult


def run_search(searcher: Looped, task: Any, *, budget: int | None = None, seeds: Any = (0,),
               on_result: Any = None, on_skipped: Any = None, stop: Any = None, prescreen: bool | None = None) -> list:
    """Serial search with the real loop and the in-process executor's evaluation of each trial: the
    trials in order; ``on_skipped`` gets the rows stored untrained (aliases, invalid, pre-screened)."""
    from actsearch.evaluators import get_task
    from actsearch.evaluators.table import TableTask
    from actsearch.search.loop.trials import TaskSpec, evaluate_trial
    from actsearch.search.screening.prescreen import PreScreen

    task = get_task(task) if isinstance(task, str) else task
    table = isinstance(task, TableTask)
    study = searcher.study
    if prescreen if prescreen is not None else not table:
        study.screen = PreScreen("mnist1d" if table else task)
    ref = TaskSpec("replay")
    from actsearch.search.loop import trials as _trials

    _trials._TASKS[ref] = task
    study.ref, study.seeds = ref, tuple(seeds)
    seen_rows: set[int] = set()
    out: list[Trial] = []
    while budget is None or len(out) < budget:
        p = searcher.suggest()
        if on_skipped is not None:
            for r in searcher.store.candidates():
                if r.id not in seen_rows and not r.trained:
                    seen_rows.add(r.id)
                    on_skipped({"expression": r.expression, "status": "alias" if r.alias_of else r.status,
                                "reason": r.error, "fingerprint": r.fingerprint})
        if p is FINISHED:
            break
        if p is WAIT:
            raise RuntimeError("searcher waits with no trial running")
        config = searcher.live.pop(p.trial_id)
        outcome = evaluate_trial(config)
        study.complete(TrialEvent(config, outcome.result, outcome.result.status, outcome.canonical))
        seen_rows.add(p.trial_id)
        trial = Trial(p, outcome.result)
        out.append(trial)
        if on_result is not None:
            on_result(trial)
        if stop is not None and stop(trial):
            break
    return out
