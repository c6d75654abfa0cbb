"""The ``discover`` preset: search on a panel of architectures, validate on others, rank by those.

``run_pipeline("discover", run_dir)`` runs these phases into ``RUN_DIR/run.sqlite`` on one Ray:

0. ``references``: ReLU's reference on every member of both panels (5 seeds each, measured in the
   driver once and cached, so that the workers do not all measure it at their first trial);
a. ``search``: the ``surrogate`` searcher over the ``x-gated`` space, one seed, on the search panel
   ``panel:mnist1d-cnn,mnist1d-resnet-ln`` (score: the mean over its members of the score in ReLU
   seed spreads), for a fixed number of candidates computed from the plan (:func:`search_budget`:
   what a 60-minute wall clock on 2 workers leaves after the other phases, at measured per-seed
   costs — not a timer, so a run is reproducible); relu, swish and gelu as references. Under
   successive halving over the steps (``scheduler``, the default) a candidate whose z on the first
   member, at 1/9 or 1/3 of its steps, is not in the top third of those recorded there stops and
   never trains the second member (:data:`HALVING_COST`), so all 320 fit; ``scheduler="fifo"``
   trains every one in full, and 267 fit. The surrogate trains the candidates its forest predicts
   best first, so what a budget leaves out are the ones predicted worst;
b. successive halving on the search panel, as in ``rediscover``: the best 20 to 3 seeds, the best 10
   of those to 5, the references to 5;
c. ``held-out``: the best ``top`` (8) after halving (and the plan's ``also``: library functions
   validated as candidates) and relu, swish and gelu, 5 seeds each, on the held-out panel
   ``panel:mnist1d-vit,mnist1d,ood-regression`` — a transformer, the deep plain MLP and an
   out-of-distribution regression, none of them in the search panel — stored with role
   ``validation`` (the leaderboard's validation column);
d. ``confirm``: the best 3 of the search (by the halving's 5-seed scores) and the references on the
   search panel, on 10 fresh seeds (1000 ..), paired, Holm-corrected (:meth:`~actsearch.search.pipelines.phases.Phases.confirm`;
   also ``RUN_DIR/verdict.json``);
e. the final table, ``RUN_DIR/discover.json`` (:mod:`actsearch.results.transfer`), ordered by the
   held-out result: the minimum over the held-out architectures of (mean − ReLU's mean) / ReLU's
   seed spread; what is better is decided by its paired, Holm-corrected comparisons of every
   validated candidate with every reference on every held-out architecture; its ``summary`` says in
   words what the confirmation and the held-out comparisons found.

A killed pipeline resumes (``actsearch resume RUN_DIR``): finished phases are skipped, the one in
progress continues from the store. ``--smoke`` (``discover-smoke``) runs the same phases on a
handful of candidates with few steps, in about two minutes on 2 cores.

``discover-around`` is the same plan over ``around:gelu`` (small learnable perturbations of GELU,
:mod:`actsearch.search.space.around`), with the 2026 AlphaEvolve finds ``gelu-sine`` and
``gelu-sinc`` validated beside its winners: does anything near GELU beat it on networks it was
not searched on? Its table reports where every learnable constant ended (``learned``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from actsearch.evaluators import registry
from actsearch.results.records import Role
from actsearch.search.pipelines.base import Pipeline, PipelineRun, register_pipeline
from actsearch.search.pipelines.phases import SECONDS_PER_SEED, ranked
from actsearch.search.pipelines.wallclock import WallClock, final_seeds, halving_seed_evals
from actsearch.search.rundir.scheduler import LEGACY_SCHEDULER, rung_settings
from actsearch.search.rundir.spec import SearchSpec

# A task's cost a seed relative to one mnist1d seed (ReLU, one thread; the upper ends of the
# ranges measured by benchmarks/calibrate_tasks.py and a second alternating run, docs/guide.md
# "Transfer tasks: calibration"; registered with each task, @register_task(cost_a_seed=...)), times
# SECONDS_PER_SEED (an x-gated candidate-seed on mnist1d in a pipeline, Ray overhead and the quickly
# diverging ones included) = a pipeline candidate-seed.
COST_A_SEED = {entry.name: entry.cost_a_seed for entry in registry.entries()}
RELU_SECONDS_PER_SEED = 4.1  # one mnist1d ReLU seed on an idle core (docs/results.md, the benchmark table)
# The surrogate's first ask (in the driver): features of every pool member, 48 ms each, and the
# 20-step proxy on the first search member (20 / 1,500 steps of an mnist1d-cnn seed each).
FEATURES_S, PROXY_STEPS = 0.048, 20
TABLE = "discover.json"
# The search phase's cost under halving, as a fraction of training every candidate in full: the
# replay of the x-gated functions on this panel (benchmarks/bench_panel_rungs.py,
# benchmarks/results/panel_rungs.json: 0.23 in the space's order, median 0.25 over shuffled orders),
# rounded up, since the surrogate proposes the promising first and fewer fall below a cut.
HALVING_COST = 0.33


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
    scheduler: str = "halving"  # the search phase's: halving, or fifo (every candidate in full)
    also: tuple[str, ...] = ()  # library functions validated on the held-out panel as candidates

    @property
    def search_task(self) -> str:
        return "panel:" + ",".join(self.search_panel)

    @property
    def search_overrides(self) -> dict[str, Any]:
        """The search panel's settings as every phase on it trains with them (halving's checkpoints)."""
        return rung_settings(self.search_settings, self.scheduler)

    @property
    def held_out_task(self) -> str:
        return "panel:" + ",".join(self.held_out)

    @property
    def held_out_overrides(self) -> dict[str, Any]:
        """The held-out panel's settings: ReLU's reference on as many seeds as the candidates get."""
        return {**self.held_out_settings, "reference_seeds": self.seeds}


def phase_names(plan: DiscoverPlan) -> tuple[str, ...]:
    """The plan's phases in the order they run (as the pipeline's state records them)."""
    return ("references", "search", *(f"rung{k + 1}" for k in range(len(plan.rungs))), "held-out", "confirm")


def _cost(tasks: tuple[str, ...]) -> float:
    """Seconds of one worker for one candidate-seed on a panel of ``tasks`` (default settings)."""
    return SECONDS_PER_SEED * sum(COST_A_SEED.get(t, 1.0) for t in tasks)


def _candidate_cost(plan: DiscoverPlan) -> float:
    """Seconds of one worker for one search candidate (one seed; under halving, the expected share)."""
    return _cost(plan.search_panel) * (HALVING_COST if plan.scheduler == "halving" else 1.0)


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
    evals = halving_seed_evals(plan.rungs) + len(plan.references) * (final_seeds(plan.rungs) - 1)
    held_out = (plan.top + len(plan.also) + len(plan.references)) * plan.seeds * _cost(plan.held_out)
    return evals * _cost(plan.search_panel) + held_out


def _clock(plan: DiscoverPlan, workers: int) -> WallClock:
    """Phase 0 and the surrogate's set-up in the driver; phases b and c and the references' first
    seed on the workers (what the search phase's candidates come on top of)."""
    return (WallClock(workers).driver(_reference_wall_s(plan)).driver(_surrogate_start_s(plan))
            .worker(_after_search_s(plan)).trainings(len(plan.references), _cost(plan.search_panel)))


def search_budget(plan: DiscoverPlan) -> int:
    """Search candidates that fit the plan's wall clock after the other phases (clamped to 20..distinct)."""
    if plan.search_budget is not None:
        return plan.search_budget
    return _clock(plan, plan.workers).fit(plan.wall_plan_s, _candidate_cost(plan), lo=20, hi=plan.distinct)


def estimate_wall_s(plan: DiscoverPlan, workers: int = 2) -> float:
    """Expected wall time of the whole pipeline (seconds) from the plan's measured rates (the
    confirmation comes on top of the plan's wall clock: it does not shrink the search budget)."""
    return (_clock(plan, workers).trainings(search_budget(plan), _candidate_cost(plan)).wall_s
            + confirm_wall_s(plan, workers))


def confirm_wall_s(plan: DiscoverPlan, workers: int = 2) -> float:
    """Expected wall time of the verdict on fresh seeds on the search panel (seconds)."""
    return WallClock(workers).trainings((plan.confirm_top + len(plan.references)) * plan.confirm_seeds,
                                        _cost(plan.search_panel)).wall_s


def base_spec(plan: DiscoverPlan, budget: int, *, workers: int = 2, address: str | None = None) -> SearchSpec:
    """The search phase's spec (its identity is the run directory's)."""
    return SearchSpec(space=plan.space, searcher=plan.searcher, task=plan.search_task, budget=budget, seeds=1,
                      workers=workers, references=plan.references, task_overrides=plan.search_overrides,
                      searcher_options=dict(plan.searcher_options), prescreen=False, address=address, seed=plan.seed,
                      scheduler=plan.scheduler)


class Discover(Pipeline):
    """Search on one panel, halve, validate on a held-out panel, confirm (the module docstring)."""

    budget_key = "search_budget"

    def budget(self) -> int:
        return search_budget(self.plan)

    def check(self) -> None:
        from actsearch.grammar import library

        plan = self.plan
        if plan.rungs and plan.top > plan.rungs[-1][0]:
            raise ValueError(f"discover plan: top {plan.top} > the last rung's {plan.rungs[-1][0]} survivors")
        bad = [name for name in plan.also if name not in library.NAMES or library.module_only(name)]
        if bad:
            raise ValueError(f"discover plan: also {bad[0]!r} is not a library function with an expression "
                             f"({', '.join(n for n in library.NAMES if not library.module_only(n))})")

    def resumed(self, stored: dict[str, Any]) -> Discover:
        """A resumed run keeps the scheduler it started with (one stored before the plan named one: fifo)."""
        scheduler = stored.get("scheduler", LEGACY_SCHEDULER) if stored else self.plan.scheduler
        return self if scheduler == self.plan.scheduler else Discover(replace(self.plan, scheduler=scheduler))

    def spec(self, budget: int, *, workers: int, address: str | None) -> SearchSpec:
        return base_spec(self.plan, budget, workers=workers, address=address)

    def run_phases(self, run: PipelineRun) -> dict[str, Any] | None:
        from actsearch.evaluators import get_task
        from actsearch.results.transfer import discover_table, write_table

        plan, phases, store, log = self.plan, run.phases, run.store, run.log
        held_task, held_settings = plan.held_out_task, plan.held_out_overrides
        if not phases.done("references"):
            started = time.perf_counter()
            for task, settings in ((plan.search_task, plan.search_overrides), (held_task, held_settings)):
                log(f"phase 0: ReLU references on {task} (measured once, then cached) ...")
                refs = get_task(task, **settings).references()
                log(f"phase 0: ReLU references on {task}: " + ", ".join(
                    f"{r.task} {r.mean:.4f} ± {r.sd:.4f} ({r.seeds} seeds, {r.source})" for r in refs.values()))
            phases.save("references", started)
        if not phases.done("search"):
            log(f"phase a: {plan.space} {plan.searcher}, {run.budget} candidates, 1 seed, on {plan.search_task}")
            if not phases.search(run.spec, "search"):
                return None
        if not phases.halving(plan.rungs, plan.search_task, plan.search_overrides):
            return None
        if not phases.done("held-out") and not self._held_out(run):
            return None
        verdict = phases.confirm(top=plan.confirm_top, seeds=plan.confirm_seeds, references=plan.references)
        if verdict is None:
            return None
        table = discover_table(store, search=(plan.search_task, plan.search_overrides),
                               held_out=(held_task, held_settings), wall_s=phases.state["wall_s"])
        held_out_words = table["summary"]
        table["confirmation"] = verdict
        table["summary"] = verdict["summary"] + held_out_words
        path = write_table(table, run.run_dir / TABLE)
        for line in _lines(table):
            log(line)
        log(f"wrote {path}")
        return {"wall_s": phases.state["wall_s"], "table": str(path), "found": table["summary"],
                "evaluated": store.count(task=plan.search_task, settings=plan.search_overrides, role=Role.SEARCH)}

    def _held_out(self, run: PipelineRun) -> bool:
        """Phase c: the best ``top`` after halving and the references on the held-out panel
        (role ``validation``); False when interrupted."""
        from actsearch.results.records import Role
        from actsearch.search.loop.study import Study
        from actsearch.search.pipelines.validate import FixedList
        from actsearch.search.searchers.base import Proposal

        plan, phases, store, log = self.plan, run.phases, run.store, run.log
        state, started = phases.state, time.perf_counter()
        if "held_out" not in state:  # chosen once, then stored
            keep = set(state["rungs"][f"rung{len(plan.rungs)}"]) if plan.rungs else None
            rows = [r for r in ranked(store, plan.search_task, plan.search_overrides) if keep is None or r.id in keep]
            state["held_out"] = [r.id for r in rows[:plan.top]]
            phases.keep()
        by_id = {r.id: r for r in store.candidates(task=plan.search_task, settings=plan.search_overrides,
                                                   include_aliases=False)}
        todo = [Proposal(by_id[i].expression, dict(by_id[i].params)) for i in state["held_out"]]
        top = len(todo)
        todo += also_proposals(plan.also, {by_id[i].fingerprint for i in state["held_out"]})
        log(f"phase c: the top {top}" + "".join(f", {n}" for n in plan.also) +
            f" and {', '.join(plan.references)} on {plan.held_out_task}, {plan.seeds} seeds")
        study = Study(store, task=plan.held_out_task, settings=plan.held_out_overrides, searcher=FixedList(todo),
                      budget=len(todo), seeds=plan.seeds, role=Role.VALIDATION, references=plan.references,
                      on_event=lambda e: log(f"[held-out] {e.status:<8} mean z {e.score:+.3f} ± {e.score_std:.3f}  "
                                             f"{e.expression}"))
        if not phases.run(study, "held-out"):
            return False
        phases.save("held-out", started)
        return True


def also_proposals(names: tuple[str, ...], chosen: set[str]) -> list[Any]:
    """The plan's ``also`` as proposals (a library function's expression and constants), leaving out
    one the search's top already holds (by fingerprint)."""
    from actsearch.grammar import library
    from actsearch.search.searchers.base import Proposal

    out = []
    for name in names:
        act = library.resolve(name)
        if act.fingerprint not in chosen:
            chosen.add(act.fingerprint)
            out.append(Proposal(library.expression(name), library.defaults(name)))
    return out


def _lines(table: dict[str, Any]) -> list[str]:
    """The final table as text, best first (per architecture: held-out mean ± sd, and per
    reference the paired verdict: ▲ better, ▼ worse, = no clear difference)."""
    from actsearch.grammar import library
    from actsearch.results.formats import verdict_symbols
    from actsearch.results.learned import Learned
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
        start = c["params"] or (library.defaults(c["reference"]) if c["reference"] else {})
        out += [f"          {Learned(**v).text(start.get(name))}" for name, v in c.get("learned", {}).items()]
    return out


def _references(table: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys(c["against"] for c in table.get("comparisons", [])))


def _marks(c: dict[str, Any], task: str, table: dict[str, Any], symbols: Callable[..., str]) -> str:
    """A candidate's verdicts on one architecture, in the order of the references."""
    if not c["vs"]:
        return ""
    refs = _references(table)
    return symbols({ref: c["vs"].get(ref, {}).get(task, "") for ref in refs}, refs)


register_pipeline("discover", Discover(DiscoverPlan()))
# a pool of 30 sampled functions (not all: the proxy pass over them is most of a tiny run), few
# steps on every member, 2 seeds
SMOKE = DiscoverPlan(
    searcher_options={"pool_limit": 0, "pool_size": 30},
    search_settings={"reference_seeds": 2, "mnist1d-cnn.steps": 200, "mnist1d-resnet-ln.steps": 80},
    search_budget=6, rungs=((2, 2),), top=2, seeds=2, wall_plan_s=120.0, distinct=30,
    confirm_top=2, confirm_seeds=3,
    held_out_settings={"mnist1d-vit.steps": 150, "mnist1d.steps": 300, "ood-regression.steps": 200})
register_pipeline("discover-smoke", Discover(SMOKE))
# around GELU: its 329 distinct functions under halving, the AlphaEvolve finds validated beside the top 8
AROUND = {"space": "around:gelu", "also": ("gelu-sine", "gelu-sinc")}
register_pipeline("discover-around", Discover(DiscoverPlan(**AROUND, distinct=329)))
register_pipeline("discover-around-smoke", Discover(replace(SMOKE, **AROUND)))
