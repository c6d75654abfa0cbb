"""Packs: several candidates one worker trains together (``--pack G``), as one stacked network on
the MNIST-1D MLPs. Each candidate's result is what it would get alone; the store records one row
per candidate; a killed pack is re-run whole on resume and no member is recorded twice."""

from __future__ import annotations

import pytest

from actsearch.errors import UserError
from actsearch.evaluators import get_task
from actsearch.results.store import SqliteStore
from actsearch.search.loop.trials import TaskSpec, TrialConfig, TrialEvent, evaluate_trial, evaluate_trials
from actsearch.search.rundir.run import open_study, run
from actsearch.search.rundir.spec import SearchSpec, check, pack_size, prepare
from actsearch.search.space import load_space

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

TINY = {"num_samples": 2000, "train_size": 1200, "val_size": 400, "steps": 60, "width": 32, "depth": 3,
        "report_subset": 200, "dnr_samples": 200}
N_VAL = TINY["val_size"]


def _config(key: int, text: str, seeds=(0,)) -> TrialConfig:
    return TrialConfig(key, text, f"fp{key}", TaskSpec.of("mnist1d", TINY), tuple(seeds))


def _spec(**kw) -> SearchSpec:
    base = {"space": "quick", "searcher": "random", "task": "mnist1d", "budget": 6, "workers": 2,
            "task_overrides": dict(TINY), "references": ("relu",), "pack": 3}
    return SearchSpec(**{**base, **kw})


def test_a_pack_gives_each_trial_its_own_result():
    texts = ["x * sigmoid(x)", "x * tanh(x)", "relu(x", "x + sin(x)"]  # the third does not parse
    configs = [_config(i, t) for i, t in enumerate(texts)]
    packed = evaluate_trials(configs)
    alone = [evaluate_trial(c) for c in configs]
    assert [o.result.status for o in packed] == ["ok", "ok", "invalid", "ok"]
    assert [o.result.status for o in alone] == ["ok", "ok", "invalid", "ok"]
    for i in (0, 1, 3):
        p, a = packed[i].result, alone[i].result
        assert p.runs[0].metrics["pack"] == 3  # the three that parse trained as one stacked network
        assert "pack" not in a.runs[0].metrics  # one seed alone trains on its own
        assert p.score == pytest.approx(a.score, abs=2.5 / N_VAL)  # the same run, up to reassociation
        assert p.metrics["val_loss"] == pytest.approx(a.metrics["val_loss"], rel=0.02)
        assert packed[i].canonical == alone[i].canonical and packed[i].canonical
    assert packed[2].result.error == alone[2].result.error


def test_a_pack_groups_trials_by_their_seeds():
    configs = [_config(0, "x * sigmoid(x)"), _config(1, "x * tanh(x)", seeds=(1, 2)), _config(2, "x + sin(x)")]
    out = evaluate_trials(configs)
    assert [len(o.result.runs) for o in out] == [1, 2, 1]
    assert [r.seed for r in out[1].result.runs] == [1, 2]
    assert out[0].result.runs[0].metrics["pack"] == 2 and out[2].result.runs[0].metrics["pack"] == 2
    assert out[1].result.runs[0].metrics["pack"] == 2  # its own two seeds


def test_default_pack_fills_a_stack_where_the_task_batches():
    mlp = get_task("mnist1d", **TINY)
    assert pack_size(_spec(pack=None, seeds=1), mlp) == 8
    assert pack_size(_spec(pack=None, seeds=2), mlp) == 4
    assert pack_size(_spec(pack=None, seeds=20), mlp) == 1
    assert pack_size(_spec(pack=None), get_task("mnist1d", **TINY, batched=False)) == 1
    assert pack_size(_spec(pack=None, scheduler="asha"), mlp) == 1
    cnn = get_task("mnist1d-cnn", batched=True)  # a stack holds one candidate's seeds
    assert mlp.stacks_candidates() and not cnn.stacks_candidates()
    assert pack_size(_spec(pack=None, seeds=1), cnn) == 1 and pack_size(_spec(pack=None, seeds=2), cnn) == 4
    assert pack_size(_spec(pack=None), get_task("digits")) == 1
    assert pack_size(_spec(pack=5), get_task("digits")) == 5  # asked for: packs run, seed by seed
    from actsearch.search.searchers import make_searcher

    rl = make_searcher("rl", load_space("quick"), batch_size=4)  # WAITs after 4: 2 per worker keeps both busy
    assert pack_size(_spec(pack=None, workers=2), mlp, rl) == 2
    assert pack_size(_spec(pack=None, workers=1), mlp, rl) == 4
    assert pack_size(_spec(pack=None, workers=2), mlp, make_searcher("random", load_space("quick"))) == 8
    with pytest.raises(UserError, match="asha .* needs --pack 1"):
        check(_spec(scheduler="asha", pack=2))
    with pytest.raises(UserError, match="--pack"):
        check(_spec(pack=0))


def test_in_process_packed_search_stores_every_candidate_once(tmp_path):
    summary, _ = run(_spec(budget=7), tmp_path, executor="inprocess")
    rows = SqliteStore(tmp_path, readonly=True).candidates(role="search")
    trained = [r for r in rows if r.trained]
    assert summary.finished and summary.evaluated == 7 and len(trained) == 7
    assert len({r.fingerprint for r in trained}) == 7 and all(r.state == "done" for r in rows)
    assert all(len(r.runs) == 1 for r in trained)
    packs = [r.runs[0]["metrics"].get("pack") for r in trained if r.ok]
    assert max(packs) == 3  # 7 trials in packs of 3, 3, 1 (a pack of one trains alone)


def test_a_killed_pack_is_rerun_whole_and_no_member_recorded_twice(tmp_path):
    spec = _spec(budget=5, references=())
    store = prepare(spec, tmp_path)
    study = open_study(spec, store, task=get_task("mnist1d", **TINY), space=load_space("quick"))
    first = study.next_trials(3)
    for c in first:
        study.started(c)
    store.close()  # the driver dies while the pack trains: nothing of it was stored
    store = prepare(spec, tmp_path, resume=True)
    assert sorted(p.id for p in store.pending()) == sorted(c.key for c in first)
    study = open_study(spec, store, task=get_task("mnist1d", **TINY), space=load_space("quick"))
    again = study.next_trials(3)
    assert [c.key for c in again] == [c.key for c in first]  # the same trials, as one pack again
    for c in again:
        study.started(c)
    out = evaluate_trials(again)
    study.complete(TrialEvent(again[0], out[0].result, out[0].result.status, out[0].canonical))
    store.close()  # killed again after the first member's result was stored
    store = prepare(spec, tmp_path, resume=True)
    study = open_study(spec, store, task=get_task("mnist1d", **TINY), space=load_space("quick"))
    rest = study.next_trials(8)
    assert [c.key for c in rest[:2]] == [c.key for c in first[1:]]  # only the unstored members, first
    while isinstance(rest, list):
        for c in rest:
            study.started(c)
        for c, o in zip(rest, evaluate_trials(rest), strict=True):
            study.complete(TrialEvent(c, o.result, o.result.status, o.canonical))
        rest = study.next_trials(8)
    study.close()
    rows = [r for r in store.candidates(role="search") if r.trained]
    assert study.finished and len(rows) == 5 and len({r.fingerprint for r in rows}) == 5
    assert all(len(r.runs) == 1 and r.state == "done" for r in rows) and store.pending() == []
    store.close()


def test_ray_packed_search_records_one_row_per_candidate(local_ray, tmp_path):
    summary, _ = run(_spec(budget=6, pack=3), tmp_path)
    store = SqliteStore(tmp_path, readonly=True)
    trained = [r for r in store.candidates(role="search") if r.trained]
    assert summary.finished and len(trained) == 6 and len({r.fingerprint for r in trained}) == 6
    assert all(r.ok and len(r.runs) == 1 and r.metrics.get("node") for r in trained)
    assert max(r.runs[0]["metrics"].get("pack", 1) for r in trained) == 3
    assert store.count(role="reference") == 1 and store.pending() == []


def test_a_replay_in_packs_scores_every_candidate_once_as_alone():
    """``replay(..., pack=G)`` (``make_table.py --pack``): the exhaustive searcher's candidates
    trained G at a time, each once, each with what it gets alone."""
    from actsearch.search.loop.replay import replay
    from actsearch.search.searchers import make_searcher

    space = load_space("quick")
    task = get_task("mnist1d", **TINY)
    packed = replay(make_searcher("exhaustive", space), task, pack=4, budget=8)
    alone = replay(make_searcher("exhaustive", space), task, budget=8)
    assert [t.config.fingerprint for t in packed] == [t.config.fingerprint for t in alone]
    assert len({t.config.fingerprint for t in packed}) == 8
    trained = [t for t in packed if t.result.runs]
    assert trained and all(t.result.runs[0].metrics.get("pack", 1) > 1 for t in trained if t.result.status == "ok")
    for p, a in zip(packed, alone, strict=True):
        assert p.result.status == a.result.status
        assert p.result.score == pytest.approx(a.result.score, abs=2.5 / N_VAL)
