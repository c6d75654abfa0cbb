"""The ``rediscover`` preset: one command that rediscovers Swish-like functions into one run store.

``run_preset("rediscover", run_dir)`` runs three phases into ``RUN_DIR/run.sqlite`` on one Ray:

a. ``exhaustive``: every distinct function of the ``x-gated`` space, one seed, on ``mnist1d``;
   the references (relu, swish, gelu) too;
b. successive halving: the best 20 by that score get 2 more seeds (3), the best 10 of those 2
   more (5), and the references are brought to the final rung's seeds, so the leaderboard ranks
   by multi-seed scores; a rung's survivors are stored before it starts (resume repeats nothing);
c. ``rl`` on ``paper-1`` for a fixed number of candidates (:func:`rl_budget`, computed from the
   plan: a ~30-minute wall clock on 2 workers, not a timer, so a run is reproducible); then the
   top 10 all get the final rung's seeds (a 1-seed lucky score does not outrank a 5-seed one).

Each phase is a :class:`~actsearch.search.runner.study.Study` over the same store and executor and
stores rows under its searcher's name (``exhaustive``, ``rl``); re-scoring is the study's
``rescore`` operation, which updates the rows in place (:meth:`Store.add_runs`). A killed pipeline resumes (``resume=True``): finished
phases are skipped, a phase in progress continues from the store like any search.
``--smoke`` (``rediscover-smoke``) runs the same pipeline on a handful of candidates in < 1 minute.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from actsearch.errors import UserError
from actsearch.results.store import Store
from actsearch.search.runner.spec import RunDirError, SearchSpec, pack_size, prepare

# Measured on an idle 2-core machine (the full preset, 2 workers): phase a took 1,222 s for the 320
# x-gated functions and 3 references, 7.6 s of one worker per candidate-seed (Ray overhead and the
# fast-failing diverged ones included); an rl candidate on paper-1 took 12.2 s. Fused Adam then
# cut training time to ~0.88× on a sample of x-gated candidates; the figures below are those
# measurements × 0.88, rounded up.
SECONDS_PER_SEED = 6.9
SECONDS_PER_RL_CANDIDATE = 11.0
STATE = "pipeline"


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
    references: tuple[str, ...] = ("relu", "swish", "gelu")
    wall_plan_s: float = 1800.0
    workers: int = 2
    distinct: int = 320  # distinct functions of `space` (exhaustive proposals: 490 raw, 152 aliases, 18 trivial)


PRESETS = {
    "rediscover": Plan(),
    "rediscover-smoke": Plan(task="digits", task_overrides={"steps": 40, "val_size": 200},
                             exhaustive_budget=6, rungs=((4, 2),), rl_candidates=4, top=2,
                             references=("relu", "swish", "gelu"), wall_plan_s=60.0, distinct=6),
}


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
    """Expected wall time of the whole pipeline (seconds) from the plan's measured rates."""
    return (_seed_evals(plan) * SECONDS_PER_SEED + rl_budget(plan) * SECONDS_PER_RL_CANDIDATE) / workers


def _ranked(store: Store, plan: Plan) -> list[Any]:
    rows = [r for r in store.candidates(task=plan.task, settings=plan.task_overrides, role="search",
                                        include_aliases=False)
            if r.status == "ok" and r.trained and math.isfinite(r.score)]
    return sorted(rows, key=lambda r: (-r.score, r.id))


def run_preset(name: str, run_dir: str | Path, *, workers: int = 2, resume: bool = False,
               log: Callable[[str], None] = print, address: str | None = None) -> dict[str, Any]:
    """Run (or resume) the preset ``name`` into ``run_dir``; returns a summary (phase wall times).

    Every phase is a :class:`Study` over the same store, run by the same executor (Ray Tune, on
    the embedded local Ray or the cluster at ``address``)."""
    from actsearch.evaluators import get_task
    from actsearch.search.runner.cluster import start_ray, stop_ray
    from actsearch.search.runner.run import execute, open_study
    from actsearch.search.runner.study import Study
    from actsearch.search.space import load_space

    if name not in PRESETS:
        raise UserError(f"unknown preset {name!r}; valid: {', '.join(p for p in PRESETS if '-' not in p)}")
    plan, run_dir = PRESETS[name], Path(run_dir)
    base = SearchSpec(space=plan.space, searcher="exhaustive", task=plan.task, budget=plan.exhaustive_budget,
                      seeds=1, workers=workers, references=plan.references, task_overrides=dict(plan.task_overrides),
                      prescreen=False, address=address)  # every distinct function is trained: a full table
    store = prepare(base, run_dir, resume=resume)
    handle = None
    try:
        meta = store.meta()
        # A resumed run keeps the rl budget it started with, even if the measured rates changed since.
        n_rl = meta.get("plan", {}).get("rl_candidates", rl_budget(plan))
        summary = {"preset": name, "run_dir": str(run_dir), "rl_candidates": n_rl, "interrupted": False}
        if meta.get("preset", name) != name or ("preset" not in meta and store.candidates()):
            raise RunDirError(f"{run_dir} holds {'preset ' + repr(meta['preset']) if 'preset' in meta else 'a search'}, "
                              f"not the {name!r} preset")
        store.init_run({"preset": name, "plan": {**asdict(plan), "rl_candidates": n_rl}})
        state = store.load_state(STATE) or {"done": [], "wall_s": {}}

        def save(phase: str, started: float) -> None:
            state["done"].append(phase)
            if phase == "exhaustive":  # the rl budget counts from here
                state["count_a"] = store.count(task=plan.task, settings=plan.task_overrides, role="search")
            state["wall_s"][phase] = round(state["wall_s"].get(phase, 0.0) + time.perf_counter() - started, 1)
            store.save_state(STATE, state)

        def ray_started() -> None:
            nonlocal handle
            if handle is None:  # Ray starts only when there is something to evaluate
                handle = start_ray(address, workers, run_dir=run_dir)

        task = get_task(plan.task, **plan.task_overrides)

        def run_phase(study: Study, phase: str, seeds: int = 1) -> bool:
            # seeds: per trial (a rescore adds a few); the rl phase's batches are split over the workers
            pack = pack_size(replace(base, seeds=seeds), task, study.searcher)
            try:
                interrupted = study.finished is False and execute(study, "ray", base, run_dir, phase, ray_started,
                                                                  pack=pack)
            finally:
                study.close()
            if study.failure is not None:
                raise study.failure
            return not interrupted

        def search(spec: SearchSpec, phase: str) -> bool:
            started = time.perf_counter()
            total = spec.budget if spec.budget < 1_000_000 else "all"  # the whole space
            study = open_study(spec, store, task=None, space=load_space(spec.space), on_event=lambda e: log(
                f"[{phase} {e.evaluated}/{total}] {e.status:<8} {e.score:.4f}  {e.expression}"))
            if not run_phase(study, phase):
                return False
            save(phase, started)
            return True

        def rescore(rows: list[Any], seeds: int, phase: str) -> bool:
            study = Study(store, task=plan.task, settings=plan.task_overrides, on_event=lambda e: log(
                f"[rescore {e.rescored} seeds] {e.status:<8} {e.score:.4f} ± {e.score_std:.4f}  {e.expression}"))
            study.rescore(rows, seeds)
            added = max((len(missing) for _, missing in study.rescore_todo), default=1)
            return run_phase(study, phase, added)

        if "exhaustive" not in state["done"]:
            log(f"phase a: {plan.space} exhaustive, 1 seed, on {plan.task}")
            if not search(base, "exhaustive"):
                return {**summary, "interrupted": True}
        survivors = state.setdefault("rungs", {})
        for k, (n, seeds) in enumerate(plan.rungs):
            phase = f"rung{k + 1}"
            if phase in state["done"]:
                continue
            started = time.perf_counter()
            if phase not in survivors:  # chosen once, from the previous rung's scores, then stored
                pool = _ranked(store, plan)
                if k:
                    keep = set(survivors[f"rung{k}"])
                    pool = [r for r in pool if r.id in keep]
                survivors[phase] = [r.id for r in pool[:n]]
                store.save_state(STATE, state)
            ids = set(survivors[phase])
            rows = [r for r in store.candidates(task=plan.task, settings=plan.task_overrides, include_aliases=False)
                    if r.id in ids]
            if k == len(plan.rungs) - 1:
                rows += store.candidates(task=plan.task, settings=plan.task_overrides, role="reference",
                                         include_aliases=False)
            log(f"phase b, {phase}: {len(ids)} candidates to {seeds} seeds")
            if not rescore(rows, seeds, phase):
                return {**summary, "interrupted": True}
            save(phase, started)
        if "rl" not in state["done"]:
            log(f"phase c: rl on {plan.rl_space}, {n_rl} candidates")
            spec = replace(base, space=plan.rl_space, searcher="rl", references=(),
                           budget=state["count_a"] + n_rl)
            if not search(spec, "rl"):
                return {**summary, "interrupted": True}
        final = plan.rungs[-1][1] if plan.rungs else 1
        if "top-up" not in state["done"]:
            started = time.perf_counter()
            for _ in range(plan.top):  # re-scoring may reorder the top: repeat until it holds
                rows = [r for r in _ranked(store, plan)[:plan.top] if len(r.seeds) < final]
                if not rows:
                    break
                log(f"top-up: {len(rows)} of the top {plan.top} to {final} seeds")
                if not rescore(rows, final, "top-up"):
                    return {**summary, "interrupted": True}
            save("top-up", started)
        return {**summary, "wall_s": state["wall_s"],
                "evaluated": store.count(task=plan.task, settings=plan.task_overrides, role="search")}
    finally:
        stop_ray(handle)
        store.close()
