"""The loop without Ray: order of trials, pending rows, budget, resume, failures, full disk.

Trials are evaluated in this process by the executors' own function (``evaluate_trial``: real
training on digits, a few steps), and their events fed back as an executor would.
"""

from __future__ import annotations

import pytest

from actsearch.evaluators import get_task
from actsearch.evaluators.result import CandidateResult
from actsearch.results.store import RunStoreError, SqliteStore
from actsearch.search.loop.trials import TrialEvent, evaluate_trial, lost, stopped_result
from actsearch.search.rundir.run import open_study
from actsearch.search.rundir.spec import SearchSpec, prepare
from actsearch.search.searchers.base import FINISHED, WAIT
from actsearch.search.space import load_space

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier


def _spec(**kw) -> SearchSpec:
    base = {"space": "quick", "searcher": "random", "task": "digits", "budget": 4, "workers": 2,
            "task_overrides": {"steps": 5}, "references": ("relu",)}
    return SearchSpec(**{**base, **kw})


def _study(spec, run_dir, resume=False):
    store = prepare(spec, run_dir, resume=resume)
    return store, open_study(spec, store, task=get_task(spec.task, **spec.task_overrides),
                             space=load_space(spec.space))


def _done(study, config):
    outcome = evaluate_trial(config)
    study.complete(TrialEvent(config, outcome.result, outcome.result.status, outcome.canonical))


def test_references_first_then_proposals_up_to_the_budget(tmp_path):
    store, study = _study(_spec(), tmp_path)
    ref = study.next_trial()
    assert ref.reference == "relu" and ref.expression == "relu(x)"
    configs = [study.next_trial() for _ in range(4)]
    assert all(c.reference is None for c in configs)
    assert study.next_trial() is WAIT  # budget handed out, trials still running
    assert [p.id for p in store.pending()] == [ref.key] + [c.key for c in configs]
    assert [p.trial for p in store.pending()] == [1, 2, 3, 4, 5]  # the loop numbers trials
    for config in [ref, *configs]:
        _done(study, config)
    assert study.next_trial() is FINISHED and study.finished
    rows = store.candidates()
    assert store.count(role="search") == 4 and store.count(role="reference") == 1 and store.pending() == []
    assert all(r.runs and r.seeds == [0] and r.state == "done" for r in rows if r.trained)
    assert [r.reference for r in rows if r.role == "reference"] == ["relu"]


def test_resume_reruns_pending_and_never_repeats_a_stored_fingerprint(tmp_path):
    store, study = _study(_spec(), tmp_path)
    _ref, a, b = study.next_trial(), study.next_trial(), study.next_trial()
    _done(study, a)
    store.close()  # the driver dies here (no checkpoint since): b and relu were handed out, never stored
    store, study = _study(_spec(), tmp_path, resume=True)
    first, rerun = study.next_trial(), study.next_trial()
    assert first.key == _ref.key and first.reference == "relu"  # relu's pending row again: never stored
    assert rerun.key == b.key and rerun.fingerprint == b.fingerprint
    rest = [study.next_trial() for _ in range(2)]
    assert study.next_trial() is WAIT
    for config in [first, rerun, *rest]:
        _done(study, config)
    assert study.next_trial() is FINISHED
    rows = [r for r in store.candidates(role="search") if r.trained]
    assert len(rows) == 4 and len({r.fingerprint for r in rows}) == 4 and a.fingerprint in {r.fingerprint for r in rows}


def test_failed_and_stopped_trials_are_results(tmp_path):
    store, study = _study(_spec(references=()), tmp_path)
    crashed, stopped = study.next_trial(), study.next_trial()
    study.complete(TrialEvent(crashed, lost(crashed), "error", retries=2))
    res: CandidateResult = stopped_result(0.25, 3)  # ASHA stopped it
    study.complete(TrialEvent(stopped, res, res.status))
    rows = {r.id: r for r in store.candidates()}
    assert rows[crashed.key].status == "error" and rows[crashed.key].retries == 2
    assert rows[stopped.key].status == "stopped" and rows[stopped.key].score == 0.25


def test_full_disk_ends_the_run_and_keeps_what_was_stored(tmp_path):
    store, study = _study(_spec(references=(), budget=40), tmp_path)
    first = study.next_trial()
    _done(study, first)
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count={pages}")  # the disk is full from now on
    for _ in range(40):
        config = study.next_trial()
        if config is FINISHED:
            break
        _done(study, config)
    assert isinstance(study.failure, RunStoreError) and "full" in str(study.failure)
    assert study.next_trial() is FINISHED
    kept = SqliteStore(tmp_path, readonly=True).candidates()
    assert kept[0].id == first.key and all(r.runs for r in kept if r.trained)
    assert len(kept) < 40


def _table(tmp_path, space):
    import csv
    import hashlib
    import json

    from actsearch.search.space.dedup import distinct

    path = tmp_path / "table.csv"
    rows = [{"expression": t, "params": json.dumps(p), "fingerprint": fp, "status": "ok",
             "score": int(hashlib.sha256(fp.encode()).hexdigest()[:8], 16) / 2**32, "wall_s": 0.0}
            for _, t, p, fp in distinct(space)]
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return f"table:{path}"


def test_a_process_killed_between_checkpoints_loses_nothing_and_repeats_nothing(tmp_path):
    """The searcher's state is saved every few outcomes only: a study dropped without closing (a
    SIGKILL) and reopened on the same store continues; nothing is evaluated twice, the budget holds."""
    from actsearch.results.memory import MemoryStore
    from actsearch.search.loop.inprocess import InProcessExecutor
    from actsearch.search.loop.study import Study
    from actsearch.search.searchers import make_searcher

    space = load_space("quick")
    task = _table(tmp_path, space)
    for name in ("evolution", "rl", "random"):
        store, evaluated = MemoryStore(), []

        def study(name=name, store=store, evaluated=evaluated):
            return Study(store, task=task, searcher=make_searcher(name, space, seed=1), budget=30,
                         checkpoint_every=7, on_event=lambda e: evaluated.append(e.expression))

        first = study()
        for _ in range(12):  # 12 trials, then the process dies with 2 more handed out
            config = first.next_trial()
            _done(first, config)
        first.next_trial(), first.next_trial()
        assert store.load_state(f"searcher:{name}") is not None  # a checkpoint older than the last results
        second = study()
        assert len(second.reruns.rows) == 2  # the two lost trials are pending, to be re-run first
        InProcessExecutor().run(second)
        trained = [r for r in store.candidates(role="search") if r.trained]
        assert len(trained) == 30 and len({r.fingerprint for r in trained}) == 30, name
        assert len(evaluated) == 30 and store.pending() == [], name
