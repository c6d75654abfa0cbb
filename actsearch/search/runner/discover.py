"""The ``discover`` preset: search on a panel of architectures, validate on others, rank by those.

``run_preset("discover", run_dir)`` runs these phases into ``RUN_DIR/run.sqlite`` on one Ray:

0. ``references``: ReLU's reference on every member of both panels (5 seeds each, measured in the
   driver once and cached, so that the workers do not all measure it at their first trial);
a. ``search``: the ``surrogate`` searcher over the ``x-gated`` space, one seed, on the search panel
   ``panel:mnist1d-cnn,mnist1d-resnet-ln`` (score: the mean over its members of the score in ReLU
   seed spreads), for a fixed number of candidates computed from the plan (:func:`search_budget`:
   what a 60-minute wall clock on 2 workers leaves after the other phases, at measured per-seed
   costs — not a timer, so a run is reproducible); relu, swish and gelu as references. Why the
   surrogate and not exhaustive: the 320 distinct x-gated functions on this panel take about 45
   minutes alone at the upper end of the measured costs; the surrogate trains the candidates its
   forest predicts best first, so what the budget leaves out are the ones predicted worst;
b. successive halving on the search panel, as in ``rediscover``: the best 20 to 3 seeds, the best 10
   of those to 5, the references to 5;
c. ``held-out``: the best ``top`` (8) after halving and relu, swish and gelu, 5 seeds each, on the
   held-out panel ``panel:mnist1d-vit,mnist1d,ood-regression`` — a transformer, the deep plain MLP
   and an out-of-distribution regression, none of them in the search panel — stored with role
   ``validation`` (the leaderboard's validation column);
d. ``confirm``: the best 3 of the search (by the halving's 5-seed scores) and the references on the
   search panel, on 10 fresh seeds (1000 ..), paired, Holm-corrected (:meth:`Phases.confirm`;
   also ``RUN_DIR/verdict.json``);
e. the final table, ``RUN_DIR/discover.json`` (:mod:`actsearch.results.transfer`), ordered by the
   held-out result: the minimum over the held-out architectures of (mean − ReLU's mean) / ReLU's
   seed spread; what is better is decided by its paired, Holm-corrected comparisons of every
   validated candidate with every reference on every held-out architecture; its ``summary`` says in
   words what the confirmation and the held-out comparisons found.

A killed pipeline resumes (``actsearch resume RUN_DIR``): finished phases are skipped, the one in
progress continues from the store. ``--smoke`` (``discover-smoke``) runs the same phases on a
handful of candidates with few steps, in about two minutes on 2 cores.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from actsearch.search.runner.phases import SECONDS_PER_SEED, Phases, check_preset, ranked
from actsearch.search.runner.spec import SearchSpec, prepare

# A task's cost a seed relative to one mnist1d seed (ReLU, one thread; the upper ends of the
# ranges measured by benchmarks/calibrate_tasks.py and a second alternating run, docs/guide.md
# "Transfer tasks: calibration"), times SECONDS_PER_SEED (an x-gated candidate-seed on mnist1d in a
# pipeline, Ray overhead and the quickly diverging ones included) = a pipeline candidate-seed.
COST_A_SEED = {"mnist1d": 1.0, "mnist1d-cnn": 1.5, "mnist1d-resnet-ln": 0.93, "mnist1d-vit": 1.9,
               "ood-regression": 0.12}
RELU_SECONDS_PER_SEED = 4.1  # one mnist1d ReLU seed on an idle core (docs/results.md, the benchmark table)
# The surrogate's first ask (in the driver): features of every pool member, 48 ms each, and the
# 20-step proxy on the first search member (20 / 1,500 steps of an mnist1d-cnn seed each).
FEATURES_S, PROXY_STEPS = 0.048, 20
TABLE = "discover.json"


@dataclass(frozen=True)
class DiscoverPlan:
    """What a discover run does (its fields are stored in the run's meta as its plan)."""

    space: str = "x-gated"
    searcher: str = "surrogate"
    searcher_options: dict[str, Any] = field(default_factory=dict)  # the searcher's -O options
    search_panel: tuple[str, ...] = ("mnist1d-cnn", "mnist1d-resnet-ln")
    search_settings: dict[str, Any] = field(default_factory=dict)  # the search panel's --set settings
    search_budget: int | None = None  # None: search_budget() of the plan
    rungs: tuple[tuple[int, int], ...] = ((20, 3), (10, 5))  # (survivors, seeds in all)
    held_out: tuple[str, ...] = ("mnist1d-vit", "mnist1d", "ood-regression")
    held_out_settings: dict[str, Any] = field(default_factory=dict)  # the held-out panel's settings
    top: int = 8  # the best `top` after halving are validated on the held-out panel
    seeds: int = 5  # held-out seeds (also the seeds of the held-out panel's ReLU reference)
    confirm_top: int = 3  # the last phase: the best `confirm_top` of the search against the references ...
    confirm_seeds: int = 10  # ... on the search panel, on this many fresh seeds (1000 ..), paired, Holm
    references: tuple[str, ...] = ("relu", "swish", "gelu")
    wall_plan_s: float = 3600.0
    workers: int = 2
    distinct: int = 320  # distinct functions of `space`
    seed: int = 0  # the searcher's seed

    @property
    def search_task(self) -> str:
        return "panel:" + ",".join(self.search_panel)

    @property
    def held_out_task(self) -> str:
        return "panel:" + ",".join(self.held_out)

    @property
    def held_out_overrides(self) -> dict[str, Any]:
        """The held-out panel's settings: ReLU's reference on as many seeds as the candidates get."""
        return {**self.held_out_settings, "reference_seeds": self.seeds}


DISCOVER_PRESETS: dict[str, DiscoverPlan] = {
    "discover": DiscoverPlan(),
    # a pool of 30 sampled x-gated functions (not all 320: the proxy pass over them is most of
    # a tiny run), few steps on every member, 2 seeds
    "discover-smoke": DiscoverPlan(
        searcher_options={"pool_limit": 0, "pool_size": 30},
        search_settings={"reference_seeds": 2, "mnist1d-cnn.steps": 200, "mnist1d-resnet-ln.steps": 80},
        search_budget=6, rungs=((2, 2),), top=2, seeds=2, wall_plan_s=120.0, distinct=30,
        confirm_top=2, confirm_seeds=3,
        held_out_settings={"mnist1d-vit.steps": 150, "mnist1d.steps": 300, "ood-regression.steps": 200}),
}


def phase_names(plan: DiscoverPlan) -> tuple[str, ...]:
    """The plan's phases in the order they run (as the pipeline's state records them)."""
    return ("references", "search", *(f"rung{k + 1}" for k in range(len(plan.rungs))), "held-out", "confirm")


def _cost(tasks: tuple[str, ...]) -> float:
    """Seconds of one worker for one candidate-seed on a panel of ``tasks`` (default settings)."""
    return SECONDS_PER_SEED * sum(COST_A_SEED.get(t, 1.0) for t in tasks)


def _reference_wall_s(plan: DiscoverPlan) -> float:
    """Phase 0 (one core, in the driver): ReLU on every member of both panels."""
    n_search = int(plan.search_settings.get("reference_seeds", 5))
    return RELU_SECONDS_PER_SEED * (n_search * sum(COST_A_SEED.get(t, 1.0) for t in plan.search_panel)
                                    + plan.seeds * sum(COST_A_SEED.get(t, 1.0) for t in plan.held_out))


def _surrogate_start_s(plan: DiscoverPlan) -> float:
    """The surrogate's feature and proxy pass over its pool (one core, in the driver)."""
    if plan.searcher != "surrogate":
        return 0.0
    from actsearch.evaluators.tasks import default_config

    first = plan.search_panel[0]
    proxy = RELU_SECONDS_PER_SEED * COST_A_SEED.get(first, 1.0) * PROXY_STEPS / default_config(first).steps
    return plan.distinct * (FEATURES_S + proxy)


def _after_search_s(plan: DiscoverPlan) -> float:
    """Seconds of one worker for phases b and c."""
    seeds_final, prev, evals = (plan.rungs[-1][1] if plan.rungs else 1), 1, 0
    for survivors, seeds in plan.rungs:
        evals += survivors * (seeds - prev)
        prev = seeds
    evals += len(plan.references) * (seeds_final - 1)
    held_out = (plan.top + len(plan.references)) * plan.seeds * _cost(plan.held_out)
    return evals * _cost(plan.search_panel) + held_out


def search_budget(plan: DiscoverPlan) -> int:
    """Search candidates that fit the plan's wall clock after the other phases (clamped to 20..distinct)."""
    if plan.search_budget is not None:
        return plan.search_budget
    left = (plan.wall_plan_s - _reference_wall_s(plan) - _surrogate_start_s(plan)) * plan.workers
    left -= _after_search_s(plan)
    left -= len(plan.references) * _cost(plan.search_panel)  # the references' first seed, in phase a
    return max(20, min(plan.distinct, int(left / _cost(plan.search_panel))))


def estimate_wall_s(plan: DiscoverPlan, workers: int = 2) -> float:
    """Expected wall time of the whole pipeline (seconds) from the plan's measured rates (the
    confirmation comes on top of the plan's wall clock: it does not shrink the search budget)."""
    search = (search_budget(plan) + len(plan.references)) * _cost(plan.search_panel)
    return (_reference_wall_s(plan) + _surrogate_start_s(plan) + (search + _after_search_s(plan)) / workers
            + confirm_wall_s(plan, workers))


def confirm_wall_s(plan: DiscoverPlan, workers: int = 2) -> float:
    """Expected wall time of the verdict on fresh seeds on the search panel (seconds)."""
    return (plan.confirm_top + len(plan.references)) * plan.confirm_seeds * _cost(plan.search_panel) / workers


def base_spec(plan: DiscoverPlan, budget: int, *, workers: int = 2, address: str | None = None) -> SearchSpec:
    """The search phase's spec (its identity is the run directory's)."""
    return SearchSpec(space=plan.space, searcher=plan.searcher, task=plan.search_task, budget=budget, seeds=1,
                      workers=workers, references=plan.references, task_overrides=dict(plan.search_settings),
                      searcher_options=dict(plan.searcher_options), prescreen=False, address=address, seed=plan.seed)


def run_discover(name: str, plan: DiscoverPlan, run_dir: Path, *, workers: int = 2, resume: bool = False,
                 log: Callable[[str], None] = print, address: str | None = None) -> dict[str, Any]:
    """Run (or resume) the discover pipeline ``plan`` into ``run_dir`` (see the module docstring)."""
    from actsearch.evaluators import get_task
    from actsearch.results.records import VALIDATION
    from actsearch.results.transfer import discover_table, write_table
    from actsearch.search.runner.study import Study
    from actsearch.search.runner.validate import FixedList
    from actsearch.search.searchers.base import Proposal

    if plan.rungs and plan.top > plan.rungs[-1][0]:
        raise ValueError(f"discover plan: top {plan.top} > the last rung's {plan.rungs[-1][0]} survivors")
    held_task, held_settings = plan.held_out_task, plan.held_out_overrides
    # A resumed run keeps the budget it started with, even if the measured rates changed since.
    n_search = (_stored_budget(run_dir) if resume else None) or search_budget(plan)
    base = base_spec(plan, n_search, workers=workers, address=address)
    store = prepare(base, run_dir, resume=resume)
    phases = None
    try:
        check_preset(store, name, run_dir)
        store.init_run({"preset": name, "plan": {**asdict(plan), "search_budget": n_search}})
        summary = {"preset": name, "run_dir": str(run_dir), "search_budget": n_search, "interrupted": False}
        phases = Phases(store, run_dir, base, log=log)
        state = phases.state
        if not phases.done("references"):
            started = time.perf_counter()
            for task, settings in ((plan.search_task, plan.search_settings), (held_task, held_settings)):
                log(f"phase 0: ReLU references on {task} (measured once, then cached) ...")
                refs = get_task(task, **settings).references()
                log(f"phase 0: ReLU references on {task}: " + ", ".join(
                    f"{r.task} {r.mean:.4f} ± {r.sd:.4f} ({r.seeds} seeds, {r.source})" for r in refs.values()))
            phases.save("references", started)
        if not phases.done("search"):
            log(f"phase a: {plan.space} {plan.searcher}, {n_search} candidates, 1 seed, on {plan.search_task}")
            if not phases.search(base, "search"):
                return {**summary, "interrupted": True}
        if not phases.halving(plan.rungs, plan.search_task, plan.search_settings):
            return {**summary, "interrupted": True}
        if not phases.done("held-out"):
            started = time.perf_counter()
            if "held_out" not in state:  # chosen once, then stored
                keep = set(state["rungs"][f"rung{len(plan.rungs)}"]) if plan.rungs else None
                rows = [r for r in ranked(store, plan.search_task, plan.search_settings)
                        if keep is None or r.id in keep]
                state["held_out"] = [r.id for r in rows[:plan.top]]
                phases.keep()
            by_id = {r.id: r for r in store.candidates(task=plan.search_task, settings=plan.search_settings,
                                                       include_aliases=False)}
            todo = [Proposal(by_id[i].expression, dict(by_id[i].params)) for i in state["held_out"]]
            log(f"phase c: the top {len(todo)} and {', '.join(plan.references)} on {held_task}, {plan.seeds} seeds")
            study = Study(store, task=held_task, settings=held_settings, searcher=FixedList(todo), budget=len(todo),
                          seeds=plan.seeds, role=VALIDATION, references=plan.references, on_event=lambda e: log(
                              f"[held-out] {e.status:<8} mean z {e.score:+.3f} ± {e.score_std:.3f}  {e.expression}"))
            if not phases.run(study, "held-out"):
                return {**summary, "interrupted": True}
            phases.save("held-out", started)
        verdict = phases.confirm(top=plan.confirm_top, seeds=plan.confirm_seeds, references=plan.references)
        if verdict is None:
            return {**summary, "interrupted": True}
        table = discover_table(store, search=(plan.search_task, plan.search_settings),
                               held_out=(held_task, held_settings), wall_s=state["wall_s"])
        held_out_words = table["summary"]
        table["confirmation"] = verdict
        table["summary"] = verdict["summary"] + held_out_words
        path = write_table(table, run_dir / TABLE)
        for line in _lines(table):
            log(line)
        log(f"wrote {path}")
        return {**summary, "wall_s": state["wall_s"], "table": str(path), "found": table["summary"],
                "evaluated": store.count(task=plan.search_task, settings=plan.search_settings, role="search")}
    finally:
        if phases is not None:
            phases.close()
        store.close()


def _stored_budget(run_dir: Path) -> int | None:
    from actsearch.results.store import SqliteStore

    if not (run_dir / "run.sqlite").is_file():
        return None
    with SqliteStore(run_dir, readonly=True) as store:
        return store.meta().get("plan", {}).get("search_budget")


def _lines(table: dict[str, Any]) -> list[str]:
    """The final table as text, best first (per architecture: held-out mean ± sd, and per
    reference the paired verdict: ▲ better, ▼ worse, = no clear difference)."""
    from actsearch.results.formats import verdict_symbols
    from actsearch.results.text import shown

    out = [f"held-out ranking by the worst z ({table['rank_by']}; the held-out phase's lines above give "
           f"the mean z); vs {', '.join(_references(table))}: ▲ better, ▼ worse, = no clear difference "
           "(paired, Holm over every architecture):"]
    for i, c in enumerate(table["candidates"], 1):
        cells = "  ".join(f"{t} {v['mean']:.4f} ± {v['sd']:.4f} {_marks(c, t, table, verdict_symbols)}".rstrip()
                          for t, v in c["held_out"].items())
        score = "failed" if c["held_out_score"] is None else f"{c['held_out_score']:+.2f}"
        label = f" [{c['reference']}]" if c["reference"] else ""
        out.append(f"{i:>3}. {score:>7}  {shown(c['expression'])}{label}  {cells}")
    return out


def _references(table: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys(c["against"] for c in table.get("comparisons", [])))


def _marks(c: dict[str, Any], task: str, table: dict[str, Any], symbols: Callable[..., str]) -> str:
    """A candidate's verdicts on one architecture, in the order of the references."""
    if not c["vs"]:
        return ""
    refs = _references(table)
    return symbols({ref: c["vs"].get(ref, {}).get(task, "") for ref in refs}, refs)
