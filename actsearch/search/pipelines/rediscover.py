"""The ``rediscover`` pipeline: one command that rediscovers Swish-like functions into one run
store. (``discover``: :mod:`actsearch.search.pipelines.discover`; what every pipeline shares:
:mod:`actsearch.search.pipelines.base`, :mod:`~actsearch.search.pipelines.phases`.)

``run_pipeline("rediscover", run_dir)`` runs four phases into ``RUN_DIR/run.sqlite`` on one Ray:

a. ``exhaustive``: every distinct function of the ``x-gated`` space, one seed, on ``mnist1d``;
   the references (relu, swish, gelu) too; under successive halving over the steps (``scheduler``,
   :mod:`actsearch.search.loop.halving`): a candidate whose score at 1/9 or 1/3 of the steps falls
   below its rung's cut stops there (stored with the step it reached, ranked below every candidate
   that finished), the rest train to the end — ``scheduler="fifo"`` trains every one in full;
b. successive halving: the best 20 by that score get 2 more seeds (3), the best 10 of those 2
   more (5), and the references are brought to the final rung's seeds, so the leaderboard ranks
   by multi-seed scores; a rung's survivors are stored before it starts (resume repeats nothing);
c. ``rl`` on ``paper-1`` for a fixed number of candidates (:func:`rl_budget`, computed from the
   plan: what a full-fidelity run fits in a ~30-minute wall clock on 2 workers, not a timer, so a
   run is reproducible; halving then trains them in less), under the same scheduler; then the
   top-up: the top 10 of the leaderboard's ranking all get the final rung's seeds, in rounds (re-score
   those that lack them, rank again, repeat: :meth:`Phases.top_up`), so a 1-seed lucky score does
   not outrank a 5-seed one;
d. ``confirm``: the top 5 and the references on 10 fresh seeds (1000 ..), paired by seed, every
   comparison Holm-corrected (:meth:`Phases.confirm`): the verdict, in words, in the log, the
   summary and ``RUN_DIR/verdict.json`` (the search scores overstate the winners; these do not).

Each phase is a :class:`~actsearch.search.loop.study.Study` over the same store and executor and
stores rows under its searcher's name (``exhaustive``, ``rl``); re-scoring is the study's
``rescore`` operation, which updates the rows in place (:meth:`Store.add_runs`). A killed pipeline resumes (``resume=True``): finished
phases are skipped, a phase in progress continues from the store like any search.
``--smoke`` (``rediscover-smoke``) runs the same pipeline on a handful of candidates on ``mnist1d``
with 400 steps, in about a minute on 2 cores: there Swish and GELU beat ReLU and the linear
candidates (x + x, x + β·x) rank far below it, as on the full budget.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

from actsearch.results.records import Role
from actsearch.search.pipelines.base import Pipeline, PipelineRun, register_pipeline
from actsearch.search.pipelines.phases import SECONDS_PER_SEED
from actsearch.search.pipelines.wallclock import WallClock, final_seeds, halving_seed_evals
from actsearch.search.rundir.scheduler import LEGACY_SCHEDULER, rung_settings
from actsearch.search.rundir.spec import SearchSpec

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
    scheduler: str = "halving"  # the search phases' (a and c): halving, or fifo (every candidate in full)


# The cost of the exhaustive phase under halving, as a fraction of training every candidate in full:
# bench_rungs.py's replay of the x-gated table on mnist1d (benchmarks/results/rungs.json, 0.47 in the
# exhaustive order; the full run of 7 Dec measured 0.36), for the expected wall time only (the budget
# is the full-fidelity plan's), so the estimate errs long.
HALVING_COST = 0.47


def settings(plan: Plan) -> dict[str, Any]:
    """The task settings every phase trains with (the checkpoints of halving's rungs included)."""
    return rung_settings(plan.task_overrides, plan.scheduler)


def _seed_evals(plan: Plan) -> int:
    """Candidate-seed trainings of phases a and b and the final top-up (about half the top)."""
    seeds_final = final_seeds(plan.rungs)
    total = plan.distinct + len(plan.references) * seeds_final + plan.top * (seeds_final - 1) // 2
    return total + halving_seed_evals(plan.rungs)


def _clock(plan: Plan, workers: int) -> WallClock:
    """Phases a and b and the top-up."""
    return WallClock(workers).trainings(_seed_evals(plan), SECONDS_PER_SEED)


def rl_budget(plan: Plan) -> int:
    """The rl candidates that fit the plan's wall clock after phases a and b (clamped to 20..100)."""
    if plan.rl_candidates is not None:
        return plan.rl_candidates
    return _clock(plan, plan.workers).fit(plan.wall_plan_s, SECONDS_PER_RL_CANDIDATE, lo=20, hi=100)


def confirm_wall_s(plan: Plan, workers: int = 2) -> float:
    """Expected wall time of the last phase, the verdict on fresh seeds (seconds)."""
    return WallClock(workers).trainings((plan.confirm_top + len(plan.references)) * plan.confirm_seeds,
                                        SECONDS_PER_SEED).wall_s


def estimate_wall_s(plan: Plan, workers: int = 2) -> float:
    """Expected wall time of the whole pipeline (seconds) from the plan's measured rates (the
    confirmation comes on top of the plan's wall clock: it does not shrink the rl budget); under
    halving, the search phases cost :data:`HALVING_COST` of training every candidate in full."""
    cost = HALVING_COST if plan.scheduler == "halving" else 1.0
    clock = WallClock(workers).trainings(_seed_evals(plan) - plan.distinct * (1 - cost), SECONDS_PER_SEED)
    return clock.trainings(rl_budget(plan) * cost, SECONDS_PER_RL_CANDIDATE).wall_s + confirm_wall_s(plan, workers)


class Rediscover(Pipeline):
    """Exhaustive search, successive halving, rl, the top-up and the verdict (the module docstring)."""

    budget_key = "rl_candidates"

    def budget(self) -> int:
        return rl_budget(self.plan)

    def resumed(self, stored: dict[str, Any]) -> Rediscover:
        """A resumed run keeps the scheduler and task settings it started with (a run stored before
        the plan named a scheduler trained every candidate in full: fifo)."""
        if not stored:
            return self
        scheduler = stored.get("scheduler", LEGACY_SCHEDULER)
        overrides = dict(stored.get("task_overrides", self.plan.task_overrides))
        if (scheduler, overrides) == (self.plan.scheduler, self.plan.task_overrides):
            return self
        return Rediscover(replace(self.plan, scheduler=scheduler, task_overrides=overrides))

    def spec(self, budget: int, *, workers: int, address: str | None) -> SearchSpec:
        plan = self.plan
        return SearchSpec(space=plan.space, searcher="exhaustive", task=plan.task, budget=plan.exhaustive_budget,
                          seeds=1, workers=workers, references=plan.references, task_overrides=settings(plan),
                          prescreen=False, address=address,  # every distinct function is trained: a full table
                          scheduler=plan.scheduler)

    def run_phases(self, run: PipelineRun) -> dict[str, Any] | None:
        plan, phases, store, log = self.plan, run.phases, run.store, run.log
        state, task_settings = phases.state, settings(plan)
        if not phases.done("exhaustive"):
            log(f"phase a: {plan.space} exhaustive, 1 seed, on {plan.task} ({plan.scheduler})")
            if not phases.search(run.spec, "exhaustive"):
                return None
        if "count_a" not in state:  # the rl budget counts from here (stored before rl starts)
            state["count_a"] = store.count(task=plan.task, settings=task_settings, role=Role.SEARCH)
            phases.keep()
        if not phases.halving(plan.rungs, plan.task, task_settings):
            return None
        if not phases.done("rl"):
            log(f"phase c: rl on {plan.rl_space}, {run.budget} candidates")
            spec = replace(run.spec, space=plan.rl_space, searcher="rl", references=(),
                           budget=state["count_a"] + run.budget)
            if not phases.search(spec, "rl"):
                return None
        final = final_seeds(plan.rungs)
        if not phases.done("top-up"):  # re-scoring reorders the top: rounds until the final top holds
            started = time.perf_counter()
            if not phases.top_up(plan.top, final, "top-up", plan.task, task_settings):
                return None
            phases.save("top-up", started)
        verdict = phases.confirm(top=plan.confirm_top, seeds=plan.confirm_seeds, references=plan.references)
        if verdict is None:
            return None
        return {"wall_s": state["wall_s"], "verdict": verdict, "found": verdict["summary"],
                "evaluated": store.count(task=plan.task, settings=task_settings, role=Role.SEARCH)}


register_pipeline("rediscover", Rediscover(Plan()))
register_pipeline("rediscover-smoke", Rediscover(Plan(
    task="mnist1d", task_overrides={"steps": 400}, exhaustive_budget=6, rungs=((4, 2),), rl_candidates=4, top=2,
    confirm_top=2, confirm_seeds=3, references=("relu", "swish", "gelu"), wall_plan_s=60.0, distinct=6)))
