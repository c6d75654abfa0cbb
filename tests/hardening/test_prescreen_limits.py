"""The pre-screen has a time limit, and a run whose proposals are all rejected stops with a clear
message instead of looping (issue: hardening, item 3)."""

from __future__ import annotations

import pytest

import actsearch
from actsearch.evaluators import get_task
from actsearch.results.store import SqliteStore
from actsearch.search.screening import prescreen
from actsearch.search.screening.prescreen import AllRejected, PreScreen

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier


def test_a_network_too_large_to_probe_in_time_is_rejected_with_the_reason():
    screen = PreScreen(get_task("mnist1d", depth=64, width=2048), time_limit_s=0.2)  # fits the memory bound
    why = screen(actsearch.parse("x * sigmoid(x)"))
    assert why is not None and "took longer than 0.2 s" in why
    assert PreScreen("mnist1d")(actsearch.parse("x * sigmoid(x)")) is None  # the default limit passes it


def test_the_in_process_loop_stops_when_every_proposal_is_rejected(monkeypatch):
    from actsearch.results.memory import MemoryStore
    from actsearch.search.loop.replay import replay
    from actsearch.search.searchers import make_searcher
    from actsearch.search.space import load_space

    monkeypatch.setattr(prescreen, "TIME_LIMIT_S", 0.0)  # every initial pass is "too slow"
    monkeypatch.setattr(prescreen, "MAX_REJECTED_IN_ROW", 5)
    store = MemoryStore()
    searcher = make_searcher("random", load_space("quick"), seed=0)
    with pytest.raises(AllRejected, match="rejected the last 5 proposals in a row"):
        replay(searcher, "digits", budget=3, screen=PreScreen("digits"), store=store)
    screened = [r for r in store.candidates(include_aliases=False) if (r.error or "").startswith("pre-screen")]
    assert len(screened) == 4  # the first four were stored, then it stopped


def test_a_ray_run_stops_in_one_line_when_every_proposal_is_rejected(monkeypatch, tmp_path):
    from actsearch.search.rundir.run import run
    from actsearch.search.rundir.spec import SearchSpec

    monkeypatch.setattr(prescreen, "TIME_LIMIT_S", 0.0)
    monkeypatch.setattr(prescreen, "MAX_REJECTED_IN_ROW", 6)
    spec = SearchSpec(space="quick", searcher="random", task="digits", budget=3, workers=1, references=(),
                      task_overrides={"steps": 20})
    with pytest.raises(AllRejected) as info:
        run(spec, tmp_path)
    assert "\n" not in str(info.value) and "--no-prescreen" in str(info.value)
    with SqliteStore(tmp_path, readonly=True) as store:
        rows = store.candidates()
        assert store.count(role="search") == 0  # nothing trained
    screened = [r for r in rows if r.alias_of is None and r.status == "invalid" and "took longer" in (r.error or "")]
    assert len(screened) == 5 and all(r.trial is None for r in rows)  # the sixth stopped the run
