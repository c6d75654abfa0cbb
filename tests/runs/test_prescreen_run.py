"""The surrogate pre-screen inside a run: the surrogate's probe task, pre-screened proposals stored
``invalid`` without a trial (and ``--no-prescreen`` training them), predicted scores stored."""

from __future__ import annotations

from actsearch.evaluators import get_task
from actsearch.search.run import SearchSpec, searcher_options


def _spec(**kw) -> SearchSpec:
    base = {"space": "quick", "searcher": "surrogate", "task": "digits", "budget": 3, "workers": 2,
            "task_overrides": {"steps": 20}, "references": ()}
    return SearchSpec(**{**base, **kw})


def test_the_surrogate_probes_the_runs_task():
    assert searcher_options(_spec(task_overrides={}))["task"] == "digits"
    task = get_task("digits", steps=20)
    assert searcher_options(_spec(), task)["task"] is task  # with its overrides
    assert searcher_options(_spec(task="table:/x.csv", task_overrides={}))["task"] == "mnist1d"  # no network
    assert searcher_options(_spec(searcher_options={"task": "xor"}))["task"] == "xor"  # the user's wins
    assert "task" not in searcher_options(_spec(searcher="random"))
