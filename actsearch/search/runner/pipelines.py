"""The presets (``PRESETS``, ``run_preset``) and ``rediscover``: one command that rediscovers
Swish-like functions into one run store. (``discover``: :mod:`actsearch.search.runner.discover`;
what the pipelines share: :mod:`actsearch.search.runner.phases`.)

``run_preset("rediscover", run_dir)`` runs three phases into ``RUN_DIR/run.sqlite`` on one Ray:

a. ``exhaustive``: every distinct function of the ``x-gated`` space, one seed, on ``mnist1d``;
   the references (relu, swish, gelu) too;
b. successive halving: the best 20 by that score get 2 more seeds (3), the best 10 of those 2
   more (5), and the references are brought to the final rung's seeds, so the leaderboard ranks
   by multi-seed scores; a rung's survivors are stored before it starts (resume repeats nothing);
c. ``rl`` on ``paper-1`` for a fixed number of candidates (:func:`rl_budget`, computed from the
   plan: a ~30-minute wall clock on 2 workers, not a timer, so a run is reproducible); then the
   top 10 all get the final rung's seeds (a 1-seed lucky score does not outrank a 5-seed one);
d. ``confirm``: the top 5 and the references on 10 fresh seeds (1000 ..), paired by seed, every
   comparison Holm-corrected (:meth:`Phases.confirm`): the verdict, in words, in the log, the
   summary and ``RUN_DIR/verdict.json`` (the search scores overstate the winners; these do not).

Each phase is a :class:`~actsearch.search.runner.study.Study` over the same store and executor and
stores rows under its searcher's name (``exhaustive``, ``rl``); re-scoring is the study's
``rescore`` operation, which updates the rows in place (:meth:`Store.add_runs`). A killed pipeline resumes (``resume=True``): finished
phases are skipped, a phase in progress continues from the store like any search.
``--smoke`` (``rediscover-smoke``) runs the same pipeline on a handful of candidates on ``mnist1d``
with 400 steps, in about a minute on 2 cores: there Swish and GELU beat ReLU and the linear
candidates (x + x, x + β·x) rank far below it, as on the full budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from actsearch.errors import UserError
from actsearch.results.banner import SMOKE_BANNER, is_smoke_preset
from actsearch.search.runner.discover import DISCOVER_PRESETS, DiscoverPlan, run_discover
from actsearch.search.runner.phases import SECONDS_PER_SEED, STATE, Phases, check_preset, ranked
from actsearch.search.runner.spec import SearchSpec, prepare

# An rl candidate on paper-1 took 12.2 s of one worker in the full preset on an idle 2-core machine;
# × 0.88 for fused Adam, rounded up (SECONDS_PER_SEED: see phases.py).
SECONDS_PER_RL_CANDIDATE = 11.0


@dataclass(frozen=True)
class Plan:
    space: str = "x-gated"
    rl_space: str = "paper-1"
    task: str = "mnist1d"
    task_overrides: dict[str, Any] = field(default_factory=dict)
    exhaustive_budget: int = 1_000_000  # the whole space
    rungs: tuple[tuple[int, int], ...] = ((20, 3), (10, 5))  # (survivors, seeds in all)
    rl_candidates: int | None = None  # None: rl_budget() of the plan
    top: int = 10  # after rl: the top `top` all get the final rung's seeds
    confirm_top: int = 5  # the last phase: the best `confirm_top` against the references ...
    confirm_seeds: int = 10  # ... on this many fresh seeds (1000 ..), paired, Holm-corrected
    references: tuple[str, ...] = ("relu", "swish", "gelu")
    wall_plan_s: float = 1800.0
    workers: int = 2
    distinct: int = 320  # distinct functions of `space` (exhaustive proposals: 490 raw, 152 aliases, 18 trivial)


PRESETS: dict[str, Plan | DiscoverPlan] = {
    "rediscover": Plan(),
    "rediscover-smoke": Plan(task="mnist1d", task_overrides={"steps": 400},
                             exhaustive_budget=6, rungs=((4, 2),), rl_candidates=4, top=2, confirm_top=2, confirm_seeds=3,
                             references=("relu", "swish", "gelu"), wall_plan_s=60.0, distinct=6),
    **DISCOVER_PRESETS,
}
__all__ = ["PRESETS", "STATE", "DiscoverPlan", "Plan", "confirm_wall_s", "estimate_wall_s", "rl_budget", "run_preset"]


def _seed_evals(plan: Plan) -> int:
    """Candidate-seed trainings of phases a and b and the final top-up (about half the top)."""
    seeds_final = plan.rungs[-1][1] if plan.rungs else 1
    total = plan.distinct + len(plan.references) * seeds_final + plan.top * (seeds_final - 1) // 2
    prev = 1
    for survivors, seeds in plan.rungs:
        total += survivors * (seeds - prev)
        prev = seeds
    return total


def rl_budget(plan: Plan) -> int:
    """The rl candidates that fit the plan's wall clock after phases a and b (clamped to 20..100)."""
    if plan.rl_candidates is not None:
        return plan.rl_candidates
    left = plan.wall_plan_s * plan.workers - _seed_evals(plan) * SECONDS_PER_SEED
    return max(20, min(100, int(left / SECONDS_PER_RL_CANDIDATE)))


def estimate_wall_s(plan: Plan, workers: int = 2) -> float:
    """Expected wall time of the whole pipeline (seconds) from the plan's measured rates (the
    confirmation comes on top of the plan's wall clock: it does not shrink the rl budget)."""
    return ((_seed_evals(plan) * SECONDS_PER_SEED + rl_budget(plan) * SECONDS_PER_RL_CANDIDATE) / workers
            + confirm_wall_s(plan, workers))


def confirm_wall_s(plan: Plan, workers: int = 2) -> float:
    """Expected wall time of the last phase, the verdict on fresh seeds (seconds)."""
    return (plan.confirm_top + len(plan.references)) * plan.confirm_seeds * SECONDS_PER_SEED / workers


def run_preset(name: str, run_dir: str | Path, *, workers: int = 2, resume: bool = False,
               log: Callable[[str], None] = print, address: str | None = None) -> dict[str, Any]:
    """Run (or resume) the preset ``name`` into ``run_dir``; returns a summary (phase wall times).

    Every phase is a :class:`Study` over the same store, run by the same executor (Ray Tune, on
    the embedded local Ray or the cluster at ``address``)."""
    if name not in PRESETS:
        raise UserError(f"unknown preset {name!r}; valid: {', '.join(p for p in PRESETS if '-' not in p)}")
    plan, run_dir = PRESETS[name], Path(run_dir)
    if is_smoke_preset(name):  # the same banner ends the CLI's output and heads every view of the run
        log(SMOKE_BANNER)
    if isinstance(plan, DiscoverPlan):
        return run_discover(name, plan, run_dir, workers=workers, resume=resume, log=log, address=address)
    base = SearchSpec(space=plan.space, searcher="exhaustive", task=plan.task, budget=plan.exhaustive_budget,
                      seeds=1, workers=workers, references=plan.references, task_overrides=dict(plan.task_overrides),
                      prescreen=False, address=address)  # every distinct function is trained: a full table
    store = prepare(base, run_dir, resume=resume)
    phases = None
    try:
        meta = store.meta()
        # A resumed run keeps the rl budget it started with, even if the measured rates changed since.
        n_rl = meta.get("plan", {}).get("rl_candidates", rl_budget(plan))
        summary = {"preset": name, "run_dir": str(run_dir), "rl_candidates": n_rl, "interrupted": False}
        check_preset(store, name, run_dir)
        store.init_run({"preset": name, "plan": {**asdict(plan), "rl_candidates": n_rl}})
        phases = Phases(store, run_dir, base, log=log)
        state = phases.state
        if not phases.done("exhaustive"):
            log(f"phase a: {plan.space} exhaustive, 1 seed, on {plan.task}")
            if not phases.search(base, "exhaustive"):
                return {**summary, "interrupted": True}
        if "count_a" not in state:  # the rl budget counts from here (stored before rl starts)
            state["count_a"] = store.count(task=plan.task, settings=plan.task_overrides, role="search")
            phases.keep()
        if not phases.halving(plan.rungs, plan.task, plan.task_overrides):
            return {**summary, "interrupted": True}
        if not phases.done("rl"):
            log(f"phase c: rl on {plan.rl_space}, {n_rl} candidates")
            spec = replace(base, space=plan.rl_space, searcher="rl", references=(),
                           budget=state["count_a"] + n_rl)
            if not phases.search(spec, "rl"):
                return {**summary, "interrupted": True}
        final = plan.rungs[-1][1] if plan.rungs else 1
        if not phases.done("top-up"):
            started = time.perf_counter()
            for _ in range(plan.top):  # re-scoring may reorder the top: repeat until it holds
                rows = [r for r in ranked(store, plan.task, plan.task_overrides)[:plan.top] if len(r.seeds) < final]
                if not rows:
                    break
                log(f"top-up: {len(rows)} of the top {plan.top} to {final} seeds")
                if not phases.rescore(rows, final, "top-up", plan.task, plan.task_overrides):
                    return {**summary, "interrupted": True}
            phases.save("top-up", started)
        verdict = phases.confirm(top=plan.confirm_top, seeds=plan.confirm_seeds, references=plan.references)
        if verdict is None:
            return {**summary, "interrupted": True}
        return {**summary, "wall_s": state["wall_s"], "verdict": verdict, "found": verdict["summary"],
                "evaluated": store.count(task=plan.task, settings=plan.task_overrides, role="search")}
    finally:
        if phases is not None:
            phases.close()
        store.close()
