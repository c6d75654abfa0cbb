"""The surrogate's set-up priced against the search's budget: the plan a cost chooses, a real tiny
run whose proxy is priced far above its share (it computes less, says so in one line and still
finishes), the progress lines, and the set-up seconds stored in the run's metadata."""

from __future__ import annotations

import pytest

from actsearch.results.store import SqliteStore
from actsearch.results.timings import timings
from actsearch.search.rundir.run import run
from actsearch.search.rundir.spec import SearchSpec, searcher_options
from actsearch.search.screening.setup import SETUP_SHARE, Cost, choose
from actsearch.search.searchers.surrogate import SurrogateSearcher
from actsearch.search.space import load_space

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

COST = Cost(passes=0.1, proxy=1.0, shape=0.001)  # seconds: one propagation pass, the proxy, the shape


def test_the_plan_is_the_richest_within_the_share_of_the_budget():
    pool = [1] * 100  # no learnable constants: one value each
    # 100 proxies (~110 s) against 24 trainings of 3,000 steps (150 s each): the full set-up
    assert choose(COST, pool, steps=3000, budget=24).mode == "full"
    # 80 steps: a training is 4 s, the budget 96 s, the share 24 s: 10.1 s of features + 13 proxies
    capped = choose(COST, pool, steps=80, budget=24)
    assert (capped.mode, capped.probed) == ("capped", 13)
    assert capped.estimate_s <= SETUP_SHARE * capped.budget_s < capped.full_s
    assert "would be" in capped.line() and "the proxy on 13 of them" in capped.line()
    assert choose(COST, pool, steps=80, budget=24, min_probed=20).mode == "features"  # too few to pick starts
    assert choose(COST, pool, steps=20, budget=2).mode == "shape"  # even one pass each is over
    unpriced = choose(COST, pool, steps=None, budget=24)
    assert unpriced.mode == "full" and "not priced" in unpriced.line()
    assert choose(COST, pool, steps=80, budget=24, proxy=False).mode == "features"


def test_the_run_gives_the_surrogate_its_budget_in_trainings():
    spec = SearchSpec(space="quick", searcher="surrogate", task="digits", budget=6, seeds=2, references=())
    assert searcher_options(spec)["budget"] == 12
    table = SearchSpec(space="quick", searcher="surrogate", task="table:/x.csv", budget=6, references=())
    assert "budget" not in searcher_options(table)  # a replay's trainings cost nothing


def _search(tmp_path, capsys, **options):
    spec = SearchSpec(space="quick", searcher="surrogate", task="digits", budget=2, seeds=1, workers=1,
                      task_overrides={"steps": 3}, references=(), searcher_options=options)
    summary, _ = run(spec, tmp_path / "run", executor="inprocess")
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("surrogate:")]
    with SqliteStore(tmp_path / "run", readonly=True) as store:
        return summary, lines, store.meta(), store.candidates()


def test_a_proxy_priced_over_its_share_is_not_run_and_the_search_finishes(tmp_path, capsys):
    # 3 training steps against a 20-step proxy: the full set-up costs hundreds of budgets
    summary, lines, meta, records = _search(tmp_path, capsys)
    assert summary.finished and summary.evaluated == 2
    assert len(lines) == 1 and lines[0].startswith("surrogate: probing ")
    assert "shape features only" in lines[0] and "would be" in lines[0] and "the cap is 25%" in lines[0]
    setup = meta["timings"]["setup"]
    assert setup["mode"] == "shape" and setup["probed"] == 0 and setup["estimate_s"] < setup["full_s"]
    spent = timings(meta, records)
    assert spent.setup_s > 0 and spent.trainings == 2 and spent.train_total_s > 0
    assert spent.wall_s is not None and spent.wall_s >= spent.train_total_s and spent.other_s >= 0


def _small_space(tmp_path):
    path = tmp_path / "small.toml"  # x·x, x·exp(x), x·tanh(x) ...: a handful of distinct functions
    path.write_text('units = 1\nunary = ["x", "exp", "tanh", "sin"]\nbinary = ["mul", "add"]\ngated = true\n')
    return load_space(str(path))


def test_the_full_proxy_when_the_share_allows_it_with_progress_lines(tmp_path):
    searcher = SurrogateSearcher(_small_space(tmp_path), seed=0, task="digits", budget=10**6)
    said: list[str] = []
    searcher.log, searcher.progress_every_s = said.append, 0.0
    assert searcher.ask(0) is not None
    assert said[0].startswith("surrogate: probing ") and "of the budget's" in said[0]
    progress = [line for line in said if line.startswith("surrogate: probed ")]
    assert progress and all(" left" in line for line in progress)
    assert said[-1].startswith("surrogate: set-up done in ")
    assert searcher.setup["mode"] == "full" and searcher.setup["probed"] == searcher.setup["pool"]
    assert searcher.setup_s > 0


def test_a_resumed_surrogate_keeps_its_plan(tmp_path):
    space = _small_space(tmp_path)
    searcher = SurrogateSearcher(space, seed=0, task="digits", budget=1, n_initial=2)
    searcher.log = lambda line: None
    first = searcher.ask(0)
    again = SurrogateSearcher(space, seed=0, task="digits", budget=10**6, n_initial=2)
    said: list[str] = []
    again.log = said.append
    again.load_state(searcher.state())
    assert again.ask(1) is not None
    assert again.setup["mode"] == searcher.setup["mode"] != "full"  # not priced again (it would be full)
    assert not any(line.startswith("surrogate: probing") for line in said)
    assert first is not None
