"""The plain driver with real training (tiny budget): suggest → evaluate → report end to end."""

from __future__ import annotations

import pytest

from actsearch.evaluators import get_task
from actsearch.search.space.files import load_space
from tests.helpers.loop import make_searcher, run_search

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier


@pytest.mark.slow
def test_driver_trains_real_candidates_and_feeds_the_searcher():
    space = load_space("quick")
    searcher = make_searcher("evolution", space, seed=0, population_size=2, sample_size=2)
    task = get_task("mnist1d", steps=30, num_samples=2000, train_size=1600, val_size=200)
    skipped = []
    trials = run_search(searcher, task, budget=3, on_skipped=skipped.append)
    assert len(trials) == 3
    assert len({t.proposal.fingerprint for t in trials}) == 3
    for t in trials:
        assert t.result.status in ("ok", "diverged", "error", "timeout", "invalid")
        assert t.result.runs and t.result.runs[0].seed == 0
        if t.result.status == "ok":
            assert 0.0 <= t.result.score <= 1.0
    assert searcher.n_completed == 3 and len(searcher.population) == 2  # the oldest member left
    assert trials[2].proposal.origin == "mutation"
    assert trials[2].proposal.parent in {t.proposal.pid for t in trials[:2]}


def test_driver_prescreen_skips_an_exploding_candidate_unless_switched_off():
    from actsearch.search.space.files import space_from_dict

    space = space_from_dict({"units": 1, "unary": ["x", "exp", "tanh"], "binary": ["mul"], "gated": True})
    task = get_task("digits", steps=5)
    skipped = []
    trials = run_search(make_searcher("exhaustive", space), task, budget=2, on_skipped=skipped.append)
    assert [t.proposal.expression for t in trials] == ["x * x", "x * tanh(x)"]  # the budget counts trainings
    rejected = [s for s in skipped if (s.get("reason") or "").startswith("pre-screen")]
    assert [(s["expression"], s["status"]) for s in rejected] == [("x * exp(x)", "invalid")]
    trials = run_search(make_searcher("exhaustive", space), task, prescreen=False)
    assert [t.proposal.expression for t in trials] == ["x * x", "x * exp(x)", "x * tanh(x)"]
