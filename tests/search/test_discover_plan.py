"""The discover preset's plan: a fixed candidate budget computed from measured per-seed costs for
a 60-minute wall clock on 2 workers (not a timer), kept on resume; the CLI names it."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from actsearch.errors import UserError
from actsearch.results.store import SqliteStore
from actsearch.search.pipelines import get_pipeline, run_pipeline
from actsearch.search.pipelines.discover import (
    base_spec,
    confirm_wall_s,
    estimate_wall_s,
    phase_names,
    search_budget,
)
from actsearch.search.pipelines.phases import STATE
from actsearch.search.rundir.spec import prepare


def test_discover_plan_fills_an_hour_with_a_fixed_budget_and_holds_out_other_architectures():
    fifo = replace(get_pipeline("discover").plan, scheduler="fifo")
    n = search_budget(fifo)
    assert 200 <= n < fifo.distinct and n == search_budget(fifo)  # in full: most of x-gated, fixed
    assert 55 * 60 < estimate_wall_s(fifo) - confirm_wall_s(fifo) <= 60 * 60  # the verdict comes on top
    plan = get_pipeline("discover").plan  # under halving (the default): the whole space, in less time
    assert plan.scheduler == "halving" and search_budget(plan) == plan.distinct
    assert plan.search_overrides == {"checkpoints": 9} and base_spec(plan, 1).scheduler == "halving"
    assert 30 * 60 < estimate_wall_s(plan) - confirm_wall_s(plan) < estimate_wall_s(fifo) - confirm_wall_s(fifo)
    assert 5 * 60 < confirm_wall_s(plan) < 10 * 60
    assert not set(plan.search_panel) & set(plan.held_out)
    assert plan.top <= plan.rungs[-1][0] and plan.held_out_overrides["reference_seeds"] == plan.seeds == 5
    smoke = get_pipeline("discover-smoke").plan
    assert search_budget(smoke) == 6 and smoke.search_panel == plan.search_panel and smoke.held_out == plan.held_out


@pytest.mark.parametrize("stored, scheduler", [({}, "fifo"), ({"scheduler": "halving"}, "halving")])
def test_resumed_discover_keeps_its_budget_and_skips_finished_phases(tmp_path, stored, scheduler):
    """All phases done: nothing trains, Ray never starts; the table is written from the store. A run
    stored before the plan named a scheduler resumes as it started (fifo, no halving checkpoints)."""
    run_dir = tmp_path / "run"
    with pytest.raises(UserError):  # nothing to resume yet
        run_pipeline("discover", run_dir, resume=True)
    plan = replace(get_pipeline("discover").plan, scheduler=scheduler)
    assert get_pipeline("discover").resumed({"search_budget": 7, **stored}).plan == plan
    with prepare(base_spec(plan, 7), run_dir) as store:
        store.init_run({"preset": "discover", "plan": {"search_budget": 7, **stored}})
        store.save_state(STATE, {"done": list(phase_names(plan)), "wall_s": {}, "rungs": {}, "held_out": []})
    lines = []
    summary = run_pipeline("discover", run_dir, resume=True, log=lines.append)
    assert summary["search_budget"] == 7 != search_budget(plan) and not summary["interrupted"]
    assert not any(line.startswith("phase") for line in lines)  # every phase skipped
    with SqliteStore(run_dir, readonly=True) as store:
        assert store.meta()["plan"]["search_budget"] == 7
    table = json.loads((run_dir / "discover.json").read_text())
    assert table["candidates"] == [] and table["held_out_task"] == plan.held_out_task
    assert table["search_settings"] == ({"checkpoints": 9} if scheduler == "halving" else {})


def test_a_rediscover_run_directory_is_not_resumed_as_discover(tmp_path):
    run_dir = tmp_path / "run"
    plan = get_pipeline("discover").plan
    with prepare(base_spec(plan, 7), run_dir) as store:
        store.init_run({"preset": "rediscover", "plan": {}})
    with pytest.raises(UserError, match="holds preset 'rediscover'"):
        run_pipeline("discover", run_dir, resume=True, log=lambda line: None)


def test_discover_around_plans_the_whole_space_and_validates_the_alphaevolve_finds():
    from actsearch.search.space import load_space
    from actsearch.search.space.dedup import count_distinct

    plan = get_pipeline("discover-around").plan
    assert plan.space == "around:gelu" and plan.distinct == count_distinct(load_space(plan.space))["distinct"]
    assert search_budget(plan) == plan.distinct and plan.scheduler == "halving"  # all of it, under halving
    assert plan.also == ("gelu-sine", "gelu-sinc") and plan.references == ("relu", "swish", "gelu")
    base = get_pipeline("discover").plan  # the same panels; two more candidates held out
    assert (plan.search_panel, plan.held_out) == (base.search_panel, base.held_out)
    assert estimate_wall_s(plan) > estimate_wall_s(replace(plan, also=()))
    assert estimate_wall_s(plan) < 60 * 60
    smoke = get_pipeline("discover-around-smoke").plan
    assert smoke.space == plan.space and smoke.also == plan.also and search_budget(smoke) == 6


@pytest.mark.parametrize("name", ["gelu-sinus", "smelu", "x*sigmoid(x)"])
def test_a_plan_whose_also_is_not_a_library_expression_is_refused_in_one_line(name):
    from actsearch.search.pipelines.discover import Discover

    with pytest.raises(ValueError, match="not a library function with an expression") as err:
        Discover(replace(get_pipeline("discover-around").plan, also=(name,))).check()
    assert "\n" not in str(err.value)


def test_also_proposals_leave_out_a_function_the_top_already_holds():
    from actsearch.grammar import library
    from actsearch.search.pipelines.discover import also_proposals

    sine = library.resolve("gelu-sine").fingerprint
    out = also_proposals(("gelu-sine", "gelu-sinc", "gelu-sinc"), {sine})
    assert [(p.expression, p.params) for p in out] == [(library.expression("gelu-sinc"), {})]
