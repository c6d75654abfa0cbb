"""The timings view: set-up and pre-screen seconds from the run's metadata, training per candidate
from the stored rows, the rest of the wall clock; shown by ``leaderboard --all``."""

from __future__ import annotations

import math

from typer.testing import CliRunner

from actsearch.cli import app
from actsearch.results.store import SqliteStore
from actsearch.results.timings import of_store, timings
from tests.helpers.stores import fill

SETUP = {"setup_s": 12.5, "prescreen_s": 0.75,
         "setup": {"searcher": "surrogate", "mode": "capped", "pool": 320, "probed": 40, "seconds": 12.5}}


def _run(tmp_path, stored):
    run = fill(tmp_path / "run")
    with SqliteStore(run) as store:
        store.init_run({"timings": stored, "spec": {"workers": 2}})
    return run


def test_the_view_adds_up(tmp_path):
    with SqliteStore(_run(tmp_path, SETUP), readonly=True) as store:
        spent = of_store(store)
        trained = [r for r in store.candidates() if r.trained]
    assert (spent.setup_s, spent.prescreen_s, spent.workers) == (12.5, 0.75, 2)
    assert spent.trainings == len(trained) == 8  # six search trials and two references
    assert math.isclose(spent.train_total_s, sum(r.wall_s for r in trained))
    assert spent.train_mean_s > 0 and spent.train_median_s > 0
    assert spent.wall_s is not None and spent.wall_s >= 0 and spent.other_s >= 0
    assert spent.other_s <= spent.wall_s
    text = "\n".join(spent.lines())
    assert "set-up (searcher): 12.5 s (capped: 320 candidates featurised, the proxy on 40)" in text
    assert "pre-screen: 0.8 s" in text and "8 trainings" in text and "with 2 workers" in text
    assert spent.as_dict()["setup"]["mode"] == "capped"


def test_a_run_without_timings_or_with_garbage_reads_as_zero(tmp_path):
    for stored in ({"setup_s": "lots", "prescreen_s": -3, "setup": [1]}, {"setup_s": float("nan")}):
        with SqliteStore(_run(tmp_path / str(len(stored)), stored), readonly=True) as store:
            spent = of_store(store)
        assert (spent.setup_s, spent.prescreen_s, spent.setup) == (0.0, 0.0, {})
    assert timings({}, []).lines()[-1].startswith("training: 0 trainings")


def test_leaderboard_all_shows_where_the_time_went(tmp_path):
    run = _run(tmp_path, SETUP)
    shown = CliRunner().invoke(app, ["leaderboard", str(run), "--all", "--no-properties"])
    assert shown.exit_code == 0, shown.output
    assert "\ntimings:\n  set-up (searcher): 12.5 s" in shown.output and "  training: 8 trainings" in shown.output
    plain = CliRunner().invoke(app, ["leaderboard", str(run), "--no-properties"])
    assert plain.exit_code == 0 and "timings:" not in plain.output
