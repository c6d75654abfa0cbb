"""``actsearch.run_search``: the public API on the same loop, in memory or into a run directory."""

from __future__ import annotations

import pytest

import actsearch
from actsearch.errors import UserError
from actsearch.results.run import Run

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

TINY = {"steps": 5}


def test_an_in_memory_search_returns_the_run_object():
    events = []
    run = actsearch.run_search(space="quick", searcher="evolution", task="digits", budget=3, settings=TINY,
                               references=("relu",), on_event=events.append)
    assert isinstance(run, Run) and run.dir is None
    trained = [r for r in run.records(role="search") if r.trained]
    assert len(trained) == 3 and len({r.fingerprint for r in trained}) == 3
    assert [e.role for e in events].count("reference") == 1 and run.meta["spec"]["budget"] == 3
    board = run.leaderboard(properties=False)
    assert [e.rank for e in board if e.rank] == [1, 2, 3] and run.best().rank == 1


def test_a_search_into_a_run_directory_is_what_open_run_reads(tmp_path):
    run = actsearch.run_search(space="quick", searcher="random", task="digits", budget=2, settings=TINY,
                               references=(), run_dir=tmp_path / "run", seed=3)
    with run, actsearch.open_run(tmp_path / "run") as again:
        assert [r.to_dict() for r in run.records()] == [r.to_dict() for r in again.records()]
    more = actsearch.run_search(space="quick", searcher="random", task="digits", budget=4, settings=TINY,
                                references=(), run_dir=tmp_path / "run", seed=3, resume=True)
    with more:
        assert more.meta["budget"] == 4 and len([r for r in more.records() if r.trained]) == 4


def test_bad_input_is_a_user_error():
    with pytest.raises(UserError, match="unknown searcher"):
        actsearch.run_search(space="quick", searcher="annealing", task="digits", budget=1)
    with pytest.raises(UserError, match="budget"):
        actsearch.run_search(space="quick", task="digits", budget=0)
