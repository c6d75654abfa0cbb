"""Successive halving over packs: one-seed candidates train to a rung, the weak ones stop there
(stored once, ``stopped``, with their rung score and the step they reached), the rest go on and
score exactly as under full fidelity; the study's thresholds follow ASHA's rule; searchers are told
stopped candidates as scored; a run killed mid-pack resumes with nothing lost or stored twice."""

from __future__ import annotations

import random
import sys
from dataclasses import replace

import pytest

from actsearch.errors import UserError
from actsearch.evaluators import get_task
from actsearch.evaluators.result import Status
from actsearch.results.store import MemoryStore, SqliteStore
from actsearch.search.loop.halving import (
    Cut,
    Ladder,
    Rung,
    default_checkpoints,
    rung_checkpoints,
    threshold,
)
from actsearch.search.loop.study import Study
from actsearch.search.loop.trials import TaskSpec, TrialConfig, TrialEvent, evaluate_trial, evaluate_trials
from actsearch.search.rundir.run import run
from actsearch.search.rundir.scheduler import resolve_scheduler
from actsearch.search.rundir.spec import SearchSpec
from actsearch.search.searchers.base import Outcome
from tests.helpers.kill import kill_at

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

TINY = {"num_samples": 2000, "train_size": 1200, "val_size": 400, "steps": 90, "width": 32, "depth": 3,
        "report_subset": 200, "dnr_samples": 200}
TEXTS = ["x * sigmoid(x)", "x * tanh(x)", "sin(x)", "x + sin(x)", "tanh(x)", "x * x", "relu(x)", "abs(x)"]


def _spec(**kw) -> SearchSpec:
    base = {"space": "quick", "searcher": "random", "task": "mnist1d", "budget": 24, "workers": 1,
            "task_overrides": dict(TINY), "references": ()}
    return SearchSpec(**{**base, **kw})


def _trained(run_dir) -> list:
    return [r for r in SqliteStore(run_dir, readonly=True).candidates(role="search") if r.trained]


# -- the rule ------------------------------------------------------------------------------------
def test_the_threshold_is_the_top_third_of_the_scores_seen_once_enough_are():
    nine = [0.1, 0.9, 0.2, 0.8, 0.3, 0.7, 0.4, 0.6, 0.5]
    assert threshold(nine) == 0.7  # 9 scores, eta 3: the top 3 go on (0.9, 0.8, 0.7)
    assert threshold(nine[:8]) is None  # fewer than min_seen (9): no cut yet
    assert threshold(nine[:8], min_seen=8) == 0.8  # 8 // 3 = 2 go on: 0.9, 0.8
    assert threshold([*nine, 0.05]) == 0.7  # 10 // 3 = 3
    assert threshold([*nine, 0.05, 0.95, 0.85]) == 0.8  # 12 // 3 = 4: 0.95, 0.9, 0.85, 0.8
    assert threshold([0.5] * 9) == 0.5  # ties at the cut go on (>=)
    assert threshold([float("nan")] * 9 + [0.3]) is None  # only finite scores count
    assert threshold([0.1, 0.2], eta=2, min_seen=2) == 0.2


def test_rungs_fall_on_checkpoints():
    assert default_checkpoints() == 9
    assert rung_checkpoints(9) == (1, 3) and rung_checkpoints(18) == (2, 6) and rung_checkpoints(27) == (3, 9)
    assert rung_checkpoints(4) is None and rung_checkpoints(12) is None and rung_checkpoints(3) is None
    ladder = Ladder(9)
    assert ladder.cut() == Cut((Rung(1, 1, None), Rung(2, 3, None)))
    for i in range(9):
        ladder.record([i / 10, i / 10 + 0.05] if i % 2 else [i / 10])  # odd ones reached rung 2
    cut = ladder.cut()
    assert cut.rungs[0].threshold == 0.6  # rung 1: 0.0 .. 0.8, top 3
    assert cut.rungs[1].threshold is None  # rung 2: four scores so far
    assert cut.at(1) is cut.rungs[0] and cut.at(2) is None and cut.at(3) is cut.rungs[1]
    with pytest.raises(ValueError, match="do not all fall"):
        Ladder(4)


def test_the_study_hands_out_the_cut_of_the_scores_recorded_so_far():
    """A study's thresholds: none until nine rung scores are recorded, then ASHA's from the rows
    it holds — and the same from the store when it is opened again."""
    store = MemoryStore()
    study = Study(store, task="mnist1d", settings={**TINY, "checkpoints": 9}, searcher="random", space="quick",
                  budget=20, references=(), halving=Ladder(9))
    scores = [0.10, 0.50, 0.20, 0.40, 0.30, 0.60, 0.70, 0.15, 0.25]
    for score in scores:
        config = study.next_trial()
        assert config.cut is not None and config.cut.rungs[0].threshold is None
        study.started(config)
        result = _stopped_result(score) if score < 0.3 else _ok_result(score)
        study.complete(TrialEvent(config, result, result.status))
    config = study.next_trial()
    assert config.cut.rungs[0].threshold == 0.5  # 9 rung-1 scores: the top 3 are 0.7, 0.6, 0.5
    assert config.cut.rungs[1].threshold is None  # rung 2: only the five that went on
    assert not (study.trial_config(1, "x", "fp", {}, seeds=(0, 1), cut=True).cut)  # several seeds: no cut
    again = Study(store, task="mnist1d", settings={**TINY, "checkpoints": 9}, searcher="random", space="quick",
                  budget=20, references=(), halving=Ladder(9))
    assert again.halving.scores == study.halving.scores
    assert again.next_trials(3)[0].cut == Cut((Rung(1, 1, 0.5), Rung(2, 3, None)))  # the rerun of the pending one


def _ok_result(score):
    from actsearch.evaluators.result import CandidateResult, EvalResult

    return CandidateResult.from_runs([EvalResult("ok", score, 0, 1.0, {"rungs": [score, score + 0.01]})])


def _stopped_result(score):
    from actsearch.evaluators.result import CandidateResult, EvalResult

    return CandidateResult.from_runs([EvalResult("stopped", score, 0, 0.1, {"rungs": [score], "steps": 10}, "cut", 10)])


# -- the worker and the training loop ------------------------------------------------------------
def _configs(cut=None) -> list[TrialConfig]:
    task = TaskSpec.of("mnist1d", {**TINY, "checkpoints": 9})
    return [TrialConfig(i, t, f"fp{i}", task, (0,), cut=cut) for i, t in enumerate(TEXTS)]


def test_a_pack_stops_its_weak_members_at_a_rung_and_the_others_score_as_in_full():
    full = evaluate_trials(_configs())
    first = [o.result.runs[0].metrics["checkpoints"][0] for o in full]
    cut_at = sorted(first)[len(first) // 2]
    halved = evaluate_trials(_configs(Cut((Rung(1, 1, cut_at), Rung(2, 3, None)))))
    stopped = [i for i, o in enumerate(halved) if o.result.status == Status.STOPPED]
    assert stopped == [i for i, s in enumerate(first) if s < cut_at] and 0 < len(stopped) < len(TEXTS)
    for i, (f, h) in enumerate(zip(full, halved, strict=True)):
        run = h.result.runs[0]
        assert run.metrics["rungs"][0] == first[i]
        if i in stopped:
            assert h.result.score == first[i] and run.score == first[i] and run.step == 10  # step 10 of 90
            assert h.result.metrics["steps"] == 10 and run.metrics["steps"] == 10 and run.metrics["rung"] == 1
            assert run.error == f"stopped at rung 1 (step 10 of 90): {first[i]:.3f} < cut {cut_at:.3f}"
            assert len(run.metrics["rungs"]) == 1
        else:  # it went on: the same numbers as the full run, to the last bit
            assert h.result.status == f.result.status == Status.OK
            assert h.result.score == f.result.score and h.result.metrics["val_loss"] == f.result.metrics["val_loss"]
            assert run.metrics["checkpoints"] == f.result.runs[0].metrics["checkpoints"]
            assert len(run.metrics["rungs"]) == 2


def test_one_network_alone_is_stopped_the_same_way():
    config = replace(_configs(Cut((Rung(1, 1, 1.01), Rung(2, 3, None))))[0], task=TaskSpec.of("digits", {
        "steps": 36, "checkpoints": 9}))
    out = evaluate_trial(config).result
    assert out.status == Status.STOPPED and out.runs[0].step == 4 and "pack" not in out.runs[0].metrics
    assert out.score == out.runs[0].metrics["rungs"][0] > 0 and "step 4 of 36" in out.error


def test_a_user_task_that_reports_is_stopped_at_a_rung():
    task = TaskSpec.of("tests.helpers.usertasks:loop_task", {"checkpoints": 9})
    cut = Cut((Rung(1, 1, None), Rung(2, 3, 1.01)))  # nobody reaches 1.01 at rung 2
    out = evaluate_trial(TrialConfig(0, "x * sigmoid(x)", "fp", task, (0,), cut=cut)).result
    assert out.status == Status.STOPPED and out.runs[0].metrics["steps"] == 3  # its third report
    assert out.score == out.runs[0].metrics["rungs"][1] and len(out.runs[0].metrics["rungs"]) == 2
    assert out.error.startswith("stopped at rung 2 (step 3)")
    free = evaluate_trial(TrialConfig(0, "x * sigmoid(x)", "fp", task, (0,))).result
    assert free.status == Status.OK


# -- the run ---------------------------------------------------------------------------------------
def test_halving_is_the_default_on_packs_of_one_seed_and_refuses_what_it_cannot_cut():
    mlp = get_task("mnist1d", **TINY)
    spec, task = resolve_scheduler(_spec(), mlp)
    assert spec.scheduler == "halving" and spec.task_overrides["checkpoints"] == 9 and task.checkpoints == 9
    assert resolve_scheduler(_spec(seeds=2), mlp)[0].scheduler == "fifo"
    assert resolve_scheduler(_spec(), get_task("mnist1d", steps=5))[0].scheduler == "fifo"  # too few steps
    with pytest.raises(UserError, match="5 steps are fewer than the 9 checkpoints"):
        resolve_scheduler(_spec(scheduler="halving"), get_task("mnist1d", steps=5))
    assert resolve_scheduler(_spec(task="digits"), get_task("digits"))[0].scheduler == "fifo"
    assert resolve_scheduler(_spec(), mlp, resume=True)[0].scheduler == "fifo"  # a run stored before halving
    kept = resolve_scheduler(_spec(task_overrides={**TINY, "checkpoints": 18}), mlp)[0]
    assert kept.task_overrides["checkpoints"] == 18
    user = resolve_scheduler(_spec(task="tests.helpers.usertasks:loop_task", task_overrides={}, scheduler="halving"),
                             get_task("tests.helpers.usertasks:loop_task"))
    assert user[0].task_overrides == {"checkpoints": 9} and user[1].config.checkpoints == 9
    with pytest.raises(UserError, match="with --seeds 3 use --scheduler fifo"):
        resolve_scheduler(_spec(seeds=3, scheduler="halving"), mlp)


def test_an_incompatible_checkpoints_setting_is_one_line(tmp_path):
    from tests.helpers.cli import run_cli

    code, _, err = run_cli("search", "--space", "quick", "--task", "mnist1d", "--budget", "2", "--steps", "90",
                           "--set", "checkpoints=4", "--run-dir", str(tmp_path / "r"))
    assert code == 2
    assert [ln for ln in err.splitlines() if ln.strip()] == [
        "error: --set checkpoints=4 does not fall on the halving rungs (1/9, 1/3 of the steps): "
        "give a multiple of 9, or --scheduler fifo"]
    assert not (tmp_path / "r" / "run.sqlite").exists()


def test_an_in_process_halving_run_stores_each_stopped_candidate_once_and_tells_it_scored(tmp_path):
    told: dict[int, Outcome] = {}
    from actsearch.search.searchers.random import RandomSearch
    from actsearch.search.space import load_space

    class Telling(RandomSearch):
        def tell(self, proposal_id, outcome):
            assert proposal_id not in told  # each proposal told once
            told[proposal_id] = outcome
            super().tell(proposal_id, outcome)

    searcher = Telling(load_space("quick"), seed=0)
    summary, store = run(_spec(), None, executor="inprocess", keep_store=True, searcher_object=searcher)
    rows = [r for r in store.candidates(role="search") if r.trained]
    assert summary.finished and summary.evaluated == 24 and len(rows) == 24 and summary.failures == 0
    assert len({r.fingerprint for r in rows}) == 24 and all(len(r.runs) == 1 for r in rows)
    stopped = [r for r in rows if r.status == Status.STOPPED]
    assert stopped and all(r.id > 16 for r in stopped)  # the first two packs: nine scores not yet seen
    for r in stopped:
        assert r.metrics["steps"] == 10 and r.runs[0]["step"] == 10 and r.error.startswith("stopped at rung 1")
        assert r.score == r.runs[0]["metrics"]["rungs"][0] > 0
    assert store.meta()["spec"]["scheduler"] == "halving" and rows[0].settings["checkpoints"] == 9
    scored = [o for o in told.values() if o.status == Status.STOPPED]  # told with its rung score, as scored
    assert len(scored) >= len(stopped) and all(o.fitness == o.score > 0 for o in scored)
    assert {o.score for o in scored} == {r.score for r in stopped}
    store.close()


@pytest.mark.slow
def test_finishers_score_as_under_fifo_for_the_same_seed(tmp_path):
    run(_spec(scheduler="halving"), tmp_path / "h", executor="inprocess")
    run(_spec(scheduler="fifo"), tmp_path / "f", executor="inprocess")
    halved = {r.fingerprint: r for r in _trained(tmp_path / "h")}
    full = {r.fingerprint: r for r in _trained(tmp_path / "f")}
    assert halved.keys() == full.keys()  # the same proposals (the random searcher's, seed 0)
    finished = [fp for fp, r in halved.items() if r.status == Status.OK]
    assert any(r.status == Status.STOPPED for r in halved.values()) and finished
    for fp in finished:
        assert halved[fp].score == full[fp].score
        assert halved[fp].metrics["val_loss"] == full[fp].metrics["val_loss"]


@pytest.mark.slow
def test_a_halving_run_killed_mid_pack_resumes_with_nothing_lost_or_stored_twice(tmp_path):
    out = tmp_path / "run"
    code = ("import sys, actsearch; actsearch.run_search(space='quick', searcher='random', task='mnist1d', "
            f"budget=40, settings={TINY!r}, references=(), run_dir=sys.argv[1], executor='inprocess', "
            "resume=sys.argv[2] == 'resume')")
    first = [sys.executable, "-c", code, str(out), "new"]
    again = [sys.executable, "-c", code, str(out), "resume"]
    kills = 0
    before: dict[int, tuple] = {}
    for target in (12, 28):  # stored rows (pending ones too): mid-way through the second and the fourth pack
        kills += kill_at(again if kills or before else first, again, out, [target], random.Random(target),
                         wait_s=120, jitter_s=0.5)
        rows = SqliteStore(out, readonly=True).candidates(include_pending=True)
        for r in rows:
            if r.state == "done":
                assert before.setdefault(r.id, (r.status, r.score, r.runs)) == (r.status, r.score, r.runs)
    assert kills >= 1
    import subprocess

    subprocess.run(again, check=True, timeout=300, capture_output=True)
    store = SqliteStore(out, readonly=True)
    rows = [r for r in store.candidates(role="search") if r.trained]
    assert len(rows) == 40 and len({r.fingerprint for r in rows}) == 40 and store.pending() == []
    assert all(len(r.runs) == 1 and r.state == "done" for r in rows)
    assert any(r.status == Status.STOPPED for r in rows)
    for r in rows:  # what was stored before a kill is kept as it was
        if r.id in before:
            assert before[r.id] == (r.status, r.score, r.runs)
    assert store.meta()["spec"]["scheduler"] == "halving"


@pytest.mark.slow
def test_a_ray_halving_run_stores_stopped_members_once(local_ray, tmp_path):
    summary, _ = run(_spec(budget=32, workers=2, pack=8), tmp_path)
    rows = _trained(tmp_path)
    assert summary.finished and len(rows) == 32 and len({r.fingerprint for r in rows}) == 32
    stopped = [r for r in rows if r.status == Status.STOPPED]
    assert stopped and all(r.metrics["steps"] == 10 and len(r.runs) == 1 for r in stopped)
    assert all(r.metrics.get("node") for r in rows)
    assert SqliteStore(tmp_path, readonly=True).pending() == []
