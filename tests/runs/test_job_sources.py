"""Job sources: a study hands out its sources' work (rescores, references, reruns, then a
pipeline's own) before its searcher's proposals, and each trial completes through its source.

A real SQLite store and a tiny task of ``tests.helpers.usertasks`` (trained in this process by
the executors' own evaluation), no mocks.
"""

from __future__ import annotations

import pytest

import actsearch
from actsearch.evaluators.resolve import reference_of
from actsearch.results.store import SqliteStore
from actsearch.search.loop.inprocess import InProcessExecutor
from actsearch.search.loop.jobs import JobSource
from actsearch.search.loop.study import Study
from actsearch.search.loop.trials import TrialConfig, TrialEvent, evaluate_trial
from actsearch.search.searchers.base import FINISHED, WAIT
from tests.helpers import usertasks
from tests.helpers.stores import result

pytestmark = pytest.mark.train  # trains (a tiny task, in this process): not in the quick unit tier

TASK = usertasks.plain  # score 0.5 + 0.01 * seed, whatever the activation


class Extra(JobSource):
    """A pipeline's own work: a trial per expression (a new row each), completed through the source."""

    def __init__(self, texts: list[str]) -> None:
        super().__init__()
        self.todo, self.keys, self.completed = list(texts), [], []

    @property
    def has_work(self) -> bool:
        return bool(self.todo)

    def next(self, study: Study) -> TrialConfig | None:
        if not self.todo:
            return None
        act = actsearch.parse(self.todo.pop(0))
        key = study.store.add_trial(act.text, act.fingerprint, task=study.task, settings=study.settings,
                                    role=study.role, trial=study.trial_number(), searcher="extra", seeds=study.seeds)
        self.keys.append(key)
        return self.hand(study.trial_config(key, act.text, act.fingerprint, {}))

    def complete(self, study: Study, event: TrialEvent, config: TrialConfig) -> None:
        self.completed.append(config.key)
        super().complete(study, event, config)


def _done(study: Study, config: TrialConfig) -> None:
    outcome = evaluate_trial(config)
    study.complete(TrialEvent(config, outcome.result, outcome.result.status, outcome.canonical))


def test_a_pipeline_source_runs_before_the_searcher_and_its_trials_complete_through_it(tmp_path):
    store, events, order = SqliteStore(tmp_path), [], []
    study = Study(store, task=TASK, searcher="random", space="quick", seed=1, budget=2, references=("relu",),
                  on_event=events.append)
    extra = Extra(["x * tanh(x)", "sin(x) + x"])
    study.add_source(extra)
    InProcessExecutor(on_trial=lambda config, _: order.append(config.key)).run(study)
    assert study.finished and study.failure is None
    rows = {r.id: r for r in store.candidates(include_aliases=False)}
    relu = next(r.id for r in rows.values() if r.reference == "relu")
    searched = [r.id for r in rows.values() if r.searcher == "random" and r.trained]
    assert order == [relu, *extra.keys, *searched] and len(searched) == 2  # its trials do not use the budget
    assert extra.completed == extra.keys and not extra.running  # finished through the source
    for key in extra.keys:
        assert rows[key].state == "done" and rows[key].score == 0.5 and rows[key].seeds == [0]
    assert len(events) == 5 and store.pending() == []


def test_sources_hand_out_rescores_then_references_then_reruns_then_proposals(tmp_path):
    store = SqliteStore(tmp_path)
    ref = reference_of(TASK)
    done = actsearch.parse("x * sigmoid(x)")
    done_id = store.record(done.text, done.fingerprint, result([0.5]), task=ref, trial=1, seeds=[0])
    left = actsearch.parse("tanh(x) * x")
    left_id = store.add_trial(left.text, left.fingerprint, task=ref, trial=2, seeds=[0])  # a lost trial
    events = []
    study = Study(store, task=TASK, searcher="random", space="quick", seed=1, budget=3, references=("relu",),
                  on_event=events.append)
    study.rescore(store.candidates(task=ref), seeds=2)
    assert [(job.row.id, job.seeds) for job in study.rescoring.queued] == [(done_id, (1,))]
    rescore, reference, rerun, proposal = (study.next_trial() for _ in range(4))
    assert (rescore.key, rescore.seeds) == (done_id, (1,))
    assert reference.reference == "relu" and reference.key not in (done_id, left_id)
    assert rerun.key == left_id and rerun.fingerprint == left.fingerprint
    assert proposal.reference is None and proposal.key not in (done_id, left_id, reference.key)
    assert study.next_trial() is WAIT  # one stored + the rerun + the proposal: the budget of 3
    for config in (rescore, reference, rerun, proposal):
        _done(study, config)
    assert study.next_trial() is FINISHED and study.finished
    rows = {r.id: r for r in store.candidates()}
    assert rows[done_id].seeds == [0, 1] and rows[left_id].state == "done"
    assert events[0].rescored == 2 and all(e.rescored is None for e in events[1:])
    assert store.pending() == []
