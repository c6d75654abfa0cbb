"""The pipelines' top-up (``rediscover``'s last re-scoring): it follows the final ranking, in rounds,
until the top K of the leaderboard all have the final number of seeds, and resumes without training
a stored seed again. Driven directly on a real SQLite store and a ``table:`` task (no training): the
table holds each function's true score, the store a lucky 1-seed score that re-scoring brings down."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import actsearch
from actsearch.evaluators.result import CandidateResult, EvalResult, Status
from actsearch.results.run import Run
from actsearch.results.store import SqliteStore
from actsearch.search.pipelines.phases import Phases, ranked
from actsearch.search.rundir.spec import SearchSpec

TOP, FINAL = 2, 3
# expression, stored per-seed scores, status, the table's (true) score; binary fractions: exact means
ROWS = [
    ("tanh(x) * x", [0.9375] * 3, Status.OK, 0.9375),
    ("x * sigmoid(x)", [0.8125, 0.875, 0.9375], Status.OK, 0.875),  # mean 0.875, a spread
    ("sin(x) + x", [1.0], Status.OK, 0.25),  # lucky on its one seed: it falls out of the top
    ("erf(x) * x", [0.875], Status.OK, 0.875),  # ties the row above, no spread: it rises into the top
    ("cos(x) * x", [0.625] * 3, Status.OK, 0.625),
    ("x + tanh(x)", [0.99], Status.STOPPED, 0.99),  # stopped at a rung: below every finished row
    ("exp(x)^3", [0.0], Status.DIVERGED, 0.0),
]


def _setup(tmp_path: Path) -> tuple[SqliteStore, str]:
    table = tmp_path / "scores.csv"
    with table.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["expression", "status", "score"])
        for text, _, status, score in ROWS:
            out.writerow([text, "diverged" if status == Status.DIVERGED else "ok", score])
    task = f"table:{table}"
    store = SqliteStore(tmp_path / "run")
    store.init_run({"command": "test", "task": task, "searcher": "exhaustive", "space": "x-gated", "seed": 0,
                    "budget": len(ROWS)})
    for trial, (text, scores, status, _) in enumerate(ROWS, 1):
        runs = [EvalResult(Status.DIVERGED if status == Status.DIVERGED else Status.OK, s, seed)
                for seed, s in enumerate(scores)]
        result = CandidateResult.from_runs(runs, {"steps": 10})
        act = actsearch.parse(text)
        store.record(text, act.fingerprint, result, task=task, role="search", trial=trial, status=status,
                     canonical=act.canonical, searcher="exhaustive", step=trial, seeds=list(range(len(scores))))
    return store, task


def _phases(store: SqliteStore, tmp_path: Path, task: str, log: list[str]) -> Phases:
    spec = SearchSpec(space="x-gated", searcher="exhaustive", task=task, budget=len(ROWS), workers=1)
    return Phases(store, tmp_path / "run", spec, log=log.append, executor="inprocess")


def _trained(log: list[str]) -> list[str]:
    """The expressions re-scored, in order (the phase logs ``[rescore ...] STATUS SCORE  EXPRESSION``)."""
    return [line.rsplit("  ", 1)[-1] for line in log if line.startswith("[rescore")]


def test_the_top_up_repeats_until_the_final_top_all_have_the_full_seeds(tmp_path):
    store, task = _setup(tmp_path)
    log: list[str] = []
    assert [r.expression for r in ranked(store, task, {})][:TOP] == ["sin(x) + x", "tanh(x) * x"]
    assert _phases(store, tmp_path, task, log).top_up(TOP, FINAL, "top-up", task, {})
    rounds = [line for line in log if line.startswith("top-up round")]
    assert rounds == [f"top-up round 1: 1 of the top {TOP} to {FINAL} seeds",
                      f"top-up round 2: 1 of the top {TOP} to {FINAL} seeds"]
    assert _trained(log) == ["sin(x) + x", "erf(x) * x"]  # the lucky one, then the one that rose
    board = Run(store=store).leaderboard(include_failed=True, properties=False)
    top = [e for e in board if e.rank is not None][:TOP]
    assert [e.expression for e in top] == ["tanh(x) * x", "erf(x) * x"]
    assert all(e.seeds == FINAL for e in top)
    rows = {r.expression: r for r in store.candidates(task=task)}
    assert rows["sin(x) + x"].score == pytest.approx(0.5) and rows["sin(x) + x"].seeds == [0, 1, 2]
    assert rows["x + tanh(x)"].seeds == [0] and rows["x + tanh(x)"].status == Status.STOPPED  # left alone
    assert [e.expression for e in board if e.status == Status.STOPPED] == ["x + tanh(x)"]
    assert next(e.rank for e in board if e.status == Status.STOPPED) == 6  # after the five finished rows
    again: list[str] = []
    assert _phases(store, tmp_path, task, again).top_up(TOP, FINAL, "top-up", task, {})
    assert again == []  # nothing left to do: no round, nothing trained
    store.close()


def test_a_killed_top_up_resumes_without_training_a_stored_seed_again(tmp_path):
    store, task = _setup(tmp_path)
    log: list[str] = []

    def killed(line: str) -> None:
        log.append(line)
        if line.startswith("[rescore"):  # Ctrl-C right after the first re-scored row was stored
            raise KeyboardInterrupt

    spec = SearchSpec(space="x-gated", searcher="exhaustive", task=task, budget=len(ROWS), workers=1)
    first = Phases(store, tmp_path / "run", spec, log=killed, executor="inprocess")
    assert not first.top_up(TOP, FINAL, "top-up", task, {})  # interrupted
    assert _trained(log) == ["sin(x) + x"]
    resumed: list[str] = []
    assert _phases(store, tmp_path, task, resumed).top_up(TOP, FINAL, "top-up", task, {})
    assert _trained(resumed) == ["erf(x) * x"]  # the stored row is not trained again
    for r in store.candidates(task=task, include_aliases=False):
        assert sorted(r.seeds) == list(range(len(r.seeds))) and len(r.runs) == len(r.seeds), r
    top = [e for e in Run(store=store).leaderboard(properties=False) if e.rank is not None][:TOP]
    assert all(e.seeds == FINAL for e in top)
    store.close()
