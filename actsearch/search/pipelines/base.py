"""What a pipeline is, the registry of pipelines, and the one skeleton that runs any of them.

A pipeline is a named, resumable list of phases over one run store (``rediscover``, ``discover``):
a :class:`Pipeline` holds its plan (a frozen dataclass, stored in the run's meta) and says three
things — the spec of its first search (whose identity is the run directory's), its budget (what
fits its planned wall clock: :class:`~actsearch.search.pipelines.wallclock.WallClock`), and its
phases, run through :class:`~actsearch.search.pipelines.phases.Phases`. :func:`run_pipeline` does the rest for every
pipeline alike: the store, the check that a run directory holds this pipeline, the stored plan
(a resumed run keeps the budget it started with), Ray started on the first training and stopped
at the end, the summary. Adding a pipeline is one module::

    class Tiny(Pipeline):
        def budget(self): return self.plan.candidates
        def spec(self, budget, *, workers, address): return SearchSpec(space="quick", ...)
        def run_phases(self, run): return {} if run.phases.search(run.spec, "search") else None
    register_pipeline("tiny", Tiny(TinyPlan()))

Installed packages add pipelines through the ``actsearch.pipelines`` entry-point group (each
entry point names a :class:`Pipeline` instance); ``actsearch search --preset NAME`` runs them.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from actsearch.errors import UserError
from actsearch.results.banner import SMOKE_BANNER, is_smoke_preset
from actsearch.results.store import Store
from actsearch.search.pipelines.phases import Phases, check_preset
from actsearch.search.rundir.spec import SearchSpec, prepare

ENTRY_POINT_GROUP = "actsearch.pipelines"
BUILT_IN = ("actsearch.search.pipelines.rediscover", "actsearch.search.pipelines.discover")


class PipelineError(UserError):
    """An unknown pipeline name, or a registration that is not a pipeline."""


@dataclass
class PipelineRun:
    """One run of a pipeline: what its phases work with."""

    name: str  # the registered name (``rediscover-smoke``)
    run_dir: Path
    spec: SearchSpec  # the first search's spec (the run directory's identity)
    budget: int  # the plan's budget for its open-ended phase, as stored with the run
    store: Store
    phases: Phases
    log: Callable[[str], None]


class Pipeline(ABC):
    """A pipeline: a plan and its phases. Subclasses say how long it takes and what it runs."""

    budget_key = "budget"  # the name its budget is stored under in the run's plan and summary

    def __init__(self, plan: Any) -> None:
        self.plan = plan

    @abstractmethod
    def budget(self) -> int:
        """The candidates of the open-ended phase that fit the plan's wall clock."""

    @abstractmethod
    def spec(self, budget: int, *, workers: int, address: str | None) -> SearchSpec:
        """The first search phase's spec (its identity is the run directory's)."""

    @abstractmethod
    def run_phases(self, run: PipelineRun) -> dict[str, Any] | None:
        """Run (or resume) the phases; what to add to the summary, or None when interrupted."""

    def check(self) -> None:
        """Refuse an inconsistent plan before anything is written (a ``ValueError``); a plan
        that cannot be inconsistent has nothing to check."""
        return None

    def resumed(self, stored: dict[str, Any]) -> Pipeline:
        """The pipeline that resumes a run whose meta holds the plan ``stored`` (the plan as
        :meth:`stored_plan` wrote it, perhaps by an older version): itself, unless a plan's new
        default would make the resumed run a different search."""
        return self

    def stored_plan(self, budget: int) -> dict[str, Any]:
        """The plan as the run's meta keeps it."""
        return {**asdict(self.plan), self.budget_key: budget}


_PIPELINES: dict[str, Pipeline] = {}
_loaded = False


def register_pipeline(name: str, pipeline: Pipeline) -> Pipeline:
    """Make ``pipeline`` runnable as ``actsearch search --preset NAME`` (and by :func:`run_pipeline`)."""
    if not isinstance(pipeline, Pipeline):
        raise PipelineError(f"pipeline {name!r}: expected a Pipeline instance, got {type(pipeline).__name__}")
    if not name or not all(part.isalnum() for part in name.split("-")):
        raise PipelineError(f"pipeline name {name!r}: letters, digits and '-' only")
    _PIPELINES[name] = pipeline
    return pipeline


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in BUILT_IN:
        importlib.import_module(module)
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in _PIPELINES:
            continue
        try:
            register_pipeline(ep.name, ep.load())
        except PipelineError:
            raise
        except Exception as err:  # a broken plugin names itself, it does not hide the built-ins
            raise PipelineError(f"the {ENTRY_POINT_GROUP} entry point {ep.name!r} ({ep.value}) failed to "
                                f"load: {type(err).__name__}: {err}") from None


def _order(name: str) -> tuple[int, int]:
    """Built-ins in the order of :data:`BUILT_IN` (whichever module was imported first), then the others
    in the order they were registered."""
    module = type(_PIPELINES[name]).__module__
    return (BUILT_IN.index(module) if module in BUILT_IN else len(BUILT_IN), list(_PIPELINES).index(name))


def pipeline_names() -> tuple[str, ...]:
    """Every registered pipeline, built-in first (``rediscover``, ``discover``, then plugins)."""
    _load()
    return tuple(sorted(_PIPELINES, key=_order))


def get_pipeline(name: str) -> Pipeline:
    """The pipeline registered as ``name`` (a one-line error naming the valid ones otherwise)."""
    _load()
    if name not in _PIPELINES:
        shown = ", ".join(p for p in pipeline_names() if not is_smoke_preset(p))
        raise PipelineError(f"unknown preset {name!r}; valid: {shown}")
    return _PIPELINES[name]


def _stored_plan(run_dir: Path) -> dict[str, Any]:
    from actsearch.results.store import SqliteStore

    if not (run_dir / "run.sqlite").is_file():
        return {}
    with SqliteStore(run_dir, readonly=True) as store:
        plan = store.meta().get("plan", {})
    return plan if isinstance(plan, dict) else {}


def run_pipeline(name: str, run_dir: str | Path, *, workers: int = 2, resume: bool = False,
                 log: Callable[[str], None] = print, address: str | None = None) -> dict[str, Any]:
    """Run (or resume) the pipeline ``name`` into ``run_dir``; returns a summary (its budget, each
    phase's wall time, what it found). Every phase is a Study over the same store, run by the same
    executor (Ray Tune, on the embedded local Ray or the cluster at ``address``)."""
    pipeline, run_dir = get_pipeline(name), Path(run_dir)
    if is_smoke_preset(name):  # the same banner ends the CLI's output and heads every view of the run
        log(SMOKE_BANNER)
    pipeline.check()
    # A resumed run keeps the budget it started with, even if the measured rates changed since.
    stored = _stored_plan(run_dir) if resume else {}
    pipeline = pipeline.resumed(stored) if stored else pipeline
    budget = stored.get(pipeline.budget_key) or pipeline.budget()
    spec = pipeline.spec(budget, workers=workers, address=address)
    store = prepare(spec, run_dir, resume=resume)
    phases = None
    try:
        check_preset(store, name, run_dir)
        store.init_run({"preset": name, "plan": pipeline.stored_plan(budget)})
        summary = {"preset": name, "run_dir": str(run_dir), pipeline.budget_key: budget, "interrupted": False}
        phases = Phases(store, run_dir, spec, log=log)
        found = pipeline.run_phases(PipelineRun(name, run_dir, spec, budget, store, phases, log))
        return {**summary, "interrupted": True} if found is None else {**summary, **found}
    finally:
        if phases is not None:
            phases.close()
        store.close()
