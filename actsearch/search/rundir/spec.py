"""What defines a search (:class:`SearchSpec`) and its run directory: creating it, checking that a
resumed run is the same search, reading the spec back. The loop itself is
:mod:`actsearch.search.loop.study`; :mod:`actsearch.search.rundir.run` puts them together.

(The notes below describe the guarantees of a run as a whole.)

``run(SearchSpec(...), run_dir)`` evaluates the references (relu, gelu, swish) and then up to
``budget`` proposals of the searcher, writing every result to the run store as it arrives. The
store is the source of truth, so a run stopped by Ctrl-C or a killed driver resumes from it: a
trial is stored *pending* before it starts and its result replaces it; on resume the searcher is
restored from its last checkpoint, pending trials are evaluated first, and a proposal whose
fingerprint is already stored is answered from the store, never evaluated again. The budget
counts finished search trials, so a finished run holds exactly ``budget`` of them (fewer if the
space is exhausted), each fingerprint once. Aliases, trivial candidates and proposals the
pre-screen rejects are stored untrained and not counted. The pre-screen is on by default
(``prescreen=None``) except for ``table:`` replays; ``prescreen=False`` switches it off.
"""

from __future__ import annotations

import sys
import time
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from actsearch.errors import UserError
from actsearch.evaluators.reference import is_table
from actsearch.results.records import REFERENCES, Role
from actsearch.results.rundir import WRITER_FILES, copy_into, refuse_links, write_atomic
from actsearch.results.store import RunStoreError, SqliteStore, Store, open_store
from actsearch.search.rundir.source import CHANGES_KEY, META_KEY, TaskSource, check_resume

SCHEDULERS = ("halving", "fifo", "asha")  # halving: successive halving over packs; asha: Ray Tune's, packs of one
# Settings that define a search: a resumed run must match them (budget, workers, address may change).
IDENTITY = ("space", "searcher", "task", "task_overrides", "seeds", "seed", "searcher_options", "prescreen")
SPACE_COPY = "space.toml"
# Candidate-seeds one trial trains as one stacked network by default (--pack): on the deep MLP,
# one thread, packs of 1-seed candidates gained most up to about this size (bench_batched.py).
PACK_MEMBERS = 8


@dataclass
class SearchSpec:
    """Everything ``actsearch search`` needs; stored in the run's metadata."""

    space: str  # preset name or TOML file (copied into the run dir as space.toml)
    searcher: str = "evolution"
    task: str = "mnist1d"
    budget: int = 100  # evaluated search candidates (references and skipped ones not counted)
    seeds: int = 1  # seeds 0 .. seeds-1 per candidate, all in one trial
    seed: int = 0  # the searcher's seed
    workers: int = 2  # concurrent trials
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    address: str | None = None  # HOST:PORT of a Ray head node; None = embedded local Ray
    # halving, fifo or asha; None: chosen when a new run starts (scheduler.resolve_scheduler: halving where the task
    # trains packs and seeds == 1, else fifo) and stored so; a resumed run keeps its own (fifo for a run
    # stored before halving existed)
    scheduler: str | None = None
    references: tuple[str, ...] = REFERENCES
    task_overrides: dict[str, Any] = field(default_factory=dict)
    searcher_options: dict[str, Any] = field(default_factory=dict)
    time_limit_s: float | None = None  # per seed
    prescreen: bool | None = None  # reject broken candidates before training; None: on, off for table: tasks
    pack: int | None = None  # candidates one worker trains together (--pack); None: pack_size()
    ship: tuple[str, ...] = ()  # the task's code a cluster gets (--ship); (): the default (shipping.py)

    def screens(self) -> bool:
        """Whether this run pre-screens its proposals (see the module docstring)."""
        return self.prescreen if self.prescreen is not None else not is_table(self.task)


@dataclass
class RunSummary:
    run_dir: Path
    evaluated: int  # search candidates in the store
    budget: int
    finished: bool  # budget reached or space exhausted
    interrupted: bool
    failures: int
    wall_s: float
    new: int = 0  # evaluated by this invocation


class RunDirError(RunStoreError):
    """The run directory belongs to another search, or exists when a new run was asked for."""


def _version_info() -> dict[str, Any]:
    import platform
    import subprocess

    import ray
    import torch

    import actsearch

    try:
        git = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        git = None
    return {"versions": {"actsearch": actsearch.__version__, "python": platform.python_version(),
                         "torch": torch.__version__, "ray": ray.__version__}, "git": git}


def prepare(spec: SearchSpec, run_dir: str | Path | None, *, resume: bool = False, force: bool = False,
            space_toml: str | None = None) -> Store:
    """Open (or create) the run directory's store and check that it belongs to this search
    (``run_dir`` None: a fresh in-memory store). A resumed run's task source must be the one it
    started with (:mod:`actsearch.search.rundir.source`) unless ``force``. ``space_toml``: the text
    of a space given as an object, saved as the new run's copy of its space."""
    if run_dir is not None:
        run_dir = Path(run_dir)
        if resume and not (run_dir / "run.sqlite").is_file():
            raise RunDirError(f"nothing to resume: {run_dir} holds no run store")
        refuse_links(run_dir, (*WRITER_FILES, SPACE_COPY))  # before anything is written
    store = open_store(run_dir)
    try:
        meta = store.meta()
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if "spec" in meta:
            if not resume:
                raise already_holds(run_dir)
            old, mine = meta["spec"], asdict(spec)
            for key in IDENTITY:
                if _norm(old.get(key)) != _norm(mine[key]):
                    raise RunDirError(f"{run_dir} belongs to a different search ({key}: stored "
                                      f"{old.get(key)!r}, given {mine[key]!r})")
            source, stored = TaskSource.of(spec.task), TaskSource.from_meta(meta.get(META_KEY))
            extra: dict[str, Any] = {META_KEY: source.as_meta()}
            if check_resume(stored, source, force=force):  # forced over a changed source: say so
                extra[CHANGES_KEY] = [*meta.get(CHANGES_KEY, []), {"at": now, "from": stored.sha256,
                                                                    "to": source.sha256}]
            store.init_run({"spec": {**old, **{k: mine[k] for k in mine if k not in IDENTITY}},
                            "budget": spec.budget, "resumed_at": now, **extra})
        else:
            if run_dir is not None and space_toml is not None:  # a Space object: its text is the copy
                write_atomic(run_dir / SPACE_COPY, space_toml.encode())  # never through a link
            elif run_dir is not None and Path(spec.space).is_file():  # a TOML file: keep a copy, so the run resumes without it
                copy_into(spec.space, run_dir / SPACE_COPY)  # never through a link
            spec_dict = asdict(spec)
            store.init_run({"spec": spec_dict, "command": sys.argv, "created_at": now,
                            META_KEY: TaskSource.of(spec.task).as_meta(),
                            **{k: spec_dict[k] for k in (*IDENTITY, "budget")}, **_version_info()})
    except BaseException:
        store.close()
        raise
    return store


def already_holds(run_dir: Path) -> RunDirError:
    """The error for a new search into a run directory that holds one: ``resume`` is the one way on."""
    return RunDirError(f"{run_dir} already holds a search; continue it with `actsearch resume {run_dir}` "
                       "(resume=True in Python), or choose another --run-dir")


def check_new(run_dir: Path | None) -> None:
    """Before anything is built: a new search (not a resume) must not go into a run directory that
    holds one (:func:`prepare` checks it again, under the write lock), nor write through a link."""
    if run_dir is not None:
        refuse_links(run_dir, (*WRITER_FILES, SPACE_COPY))
    if run_dir is not None and (run_dir / "run.sqlite").is_file():
        with SqliteStore(run_dir, readonly=True) as stored:
            if "spec" in stored.meta():
                raise already_holds(run_dir)


def run_space(spec: SearchSpec, run_dir: Path | None, *, resume: bool, given: Any = None) -> Any:
    """The Space a run searches: ``given`` (a Space object), else on resume the run's copy of its
    space, else ``spec.space`` loaded. A space given to a resumed run must be the one its copy holds."""
    from actsearch.search.space.files import load_space
    from actsearch.search.space.files import space_toml as toml_text

    if resume and run_dir is not None and (run_dir / SPACE_COPY).is_file():
        stored = load_space(space_of(spec, run_dir))
        if given is not None and toml_text(given) != toml_text(stored):
            raise RunDirError(f"{run_dir} belongs to a different search (space: the Space given is not the one "
                              f"in its {SPACE_COPY})")
        return given if given is not None else stored
    return given if given is not None else load_space(spec.space)


def space_of(spec: SearchSpec, run_dir: str | Path) -> str:
    """The space to load: the run's copy of a TOML file when there is one."""
    copy = Path(run_dir, SPACE_COPY)
    return str(copy) if copy.is_file() and not _is_preset(spec.space) else spec.space


def _is_preset(name: str) -> bool:
    from actsearch.search.space.core import PRESETS

    return name in PRESETS


def _norm(value: Any) -> Any:
    return value if value not in (None, {}, [], ()) else None


def spec_from_store(run_dir: str | Path) -> SearchSpec:
    """The SearchSpec a run directory was started with (for ``actsearch resume``), every setting
    checked (:func:`check`: types and ranges) before anything it names is used or imported; a
    stored value of the wrong type is a one-line :class:`RunDirError`."""
    with SqliteStore(run_dir, readonly=True) as store:
        meta = store.meta()
    stored = meta.get("spec") if isinstance(meta, dict) else None
    if stored is None:
        raise RunDirError(f"{run_dir} holds no search to resume")
    if not isinstance(stored, dict):
        raise RunDirError(f"{run_dir}: the stored search settings are {type(stored).__name__}, not a table")
    data = {k: v for k, v in stored.items() if k in SearchSpec.__dataclass_fields__}
    for f in fields(SearchSpec):  # JSON keeps tuples as lists
        if isinstance(data.get(f.name), list) and f.default_factory is MISSING and isinstance(f.default, tuple):
            data[f.name] = tuple(data[f.name])
    data.setdefault("references", ())
    try:
        spec = SearchSpec(**data)
        check(spec)
    except UserError as err:
        raise RunDirError(f"{run_dir}: a stored setting is not valid: {err}") from None
    return spec


def check_budget(run_dir: str | Path | None, budget: Any, *, flag: str = "--budget") -> None:
    """A resumed run's new budget may not be below the search candidates it has evaluated (it would
    silently lower the stored budget of a finished run)."""
    if run_dir is None or not isinstance(budget, int) or not (Path(run_dir) / "run.sqlite").is_file():
        return
    with SqliteStore(run_dir, readonly=True) as store:
        done = sum(1 for r in store.candidates(role=Role.SEARCH, include_aliases=False)
                   if r.trained and r.reference is None)
    if budget < done:
        raise RunDirError(f"{flag} {budget} is below the {done} candidates this run has already evaluated; "
                          f"give {done} or more")


def probe_task(spec: SearchSpec, task: Any = None) -> Any:
    """The task whose child network the pre-screen and the surrogate probe: the run's (``task``, the
    built Task, when it has overrides), or mnist1d for a ``table:`` replay, which has no network."""
    if is_table(spec.task):
        return "mnist1d"
    if spec.task_overrides:
        from actsearch.evaluators import get_task

        return task if task is not None else get_task(spec.task, **spec.task_overrides)
    return spec.task


def probe_settings(spec: SearchSpec, task: Any = None) -> dict[str, Any]:
    """Which probe the run's pre-screen and surrogate features use, as its metadata says (key
    ``probe``): the task's own network and data, or — for a task that offers none, such as a
    full-control function without ``probe=`` — the documented task-free Gaussian fallback."""
    from actsearch.search.screening.features import probe_kind

    used = [name for name, on in (("pre-screen", spec.screens()), ("surrogate", spec.searcher == "surrogate")) if on]
    replay = is_table(spec.task)  # no network of its own: mnist1d's (probe_task)
    kind = probe_kind(probe_task(spec) if replay or task is None else task)
    out: dict[str, Any] = {"task": probe_task(spec) if replay else spec.task, "kind": kind, "used_by": used}
    if kind == "gaussian":
        out["note"] = ("the task offers no probe (a network and a batch): the task-free fallback is used, "
                       "a deep MLP on fixed Gaussian inputs")
    return out


def searcher_options(spec: SearchSpec, task: Any = None) -> dict[str, Any]:
    """The searcher's options: the spec's, plus for a ``surrogate`` (and ``rl``, whose model-based
    options use the same features) its probe task, whether a surrogate orders its pool by the
    pre-screen (as the run screens) and the trainings (candidates × seeds) its set-up is priced against."""
    options = dict(spec.searcher_options)
    if spec.searcher in ("surrogate", "rl"):  # their features probe the task's network
        options.setdefault("task", probe_task(spec, task))
    if spec.searcher == "surrogate":
        options.setdefault("prescreen", spec.screens())
        if not is_table(spec.task):  # a replay's trainings cost nothing: its set-up is not priced
            options.setdefault("budget", spec.budget * spec.seeds)  # trainings its set-up is priced against
    return options


def pack_size(spec: SearchSpec, task: Any = None, searcher: Any = None) -> int:
    """How many candidates one trial trains together: ``spec.pack`` when given, else, on a task that
    trains stacked networks (``batched``), as many as fill a stack of ``PACK_MEMBERS`` candidate-seeds
    (one where ASHA stops trials by their progress, where the task trains seed by seed, or for one
    seed where a stack holds one candidate's seeds only), and no
    more than a share of the searcher's batch that keeps every worker busy."""
    if spec.pack is not None:
        return spec.pack
    if spec.scheduler == "asha" or task is None or not task.batched:
        return 1
    if spec.seeds < 2 and not task.stacks_candidates():
        return 1  # one seed per candidate, and candidates do not share a stack: nothing to stack
    pack = max(1, PACK_MEMBERS // max(1, spec.seeds))
    batch = searcher.batch_size if searcher is not None else None
    if batch:
        pack = min(pack, max(1, -(-batch // max(1, spec.workers))))
    return pack


_INTEGERS = ("budget", "seeds", "seed", "workers", "pack")
_TEXTS = {"space": False, "searcher": False, "task": False, "address": True, "scheduler": True}  # name: may be None


def check(spec: SearchSpec) -> None:
    """The run settings of their types and inside their ranges (:mod:`actsearch.limits`), finite
    searcher options and a known scheduler, before anything starts (the one home of these checks;
    a spec read from a store or given from Python passes them too)."""
    from actsearch.limits import check as in_range

    _check_types(spec)
    for key in ("budget", "seeds", "workers", "cpus_per_trial", "gpus_per_trial", "pack"):
        in_range(key, getattr(spec, key), label="--" + key.replace("_", "-"))
    in_range("time_limit", spec.time_limit_s, label="--time-limit")
    if spec.scheduler not in (None, "", *SCHEDULERS):
        raise UserError(f"unknown scheduler {spec.scheduler!r}; valid: {', '.join(SCHEDULERS)}")
    if spec.scheduler == "asha" and (spec.pack or 1) > 1:
        raise UserError("--scheduler asha stops each trial by its own progress, so it needs --pack 1")


def _check_types(spec: SearchSpec) -> None:
    """Each setting of its type: whole numbers where a count is meant, text where a name is."""
    import math

    def bad(name: str, want: str, value: Any) -> UserError:
        shown = repr(value) if len(repr(value)) <= 60 else f"a {type(value).__name__}"
        return UserError(f"{name} must be {want}, got {shown}")

    for key in _INTEGERS:
        value = getattr(spec, key)
        if not (isinstance(value, int) and not isinstance(value, bool)) and not (key == "pack" and value is None):
            raise bad(key, "a whole number", value)
    for key in ("cpus_per_trial", "gpus_per_trial", "time_limit_s"):
        value = getattr(spec, key)
        if not (isinstance(value, (int, float)) and not isinstance(value, bool)) and not (key == "time_limit_s" and value is None):
            raise bad(key, "a number", value)
    for key, optional in _TEXTS.items():
        value = getattr(spec, key)
        if not isinstance(value, str) and not (optional and value is None):
            raise bad(key, "text", value)
    if not spec.task.strip():
        raise UserError("task must name a task, got ''")
    if not isinstance(spec.references, (tuple, list)) or not all(isinstance(r, str) for r in spec.references):
        raise bad("references", "a list of names", spec.references)
    if spec.prescreen is not None and not isinstance(spec.prescreen, bool):
        raise bad("prescreen", "true, false or None", spec.prescreen)
    for key in ("task_overrides", "searcher_options"):
        table = getattr(spec, key)
        if not isinstance(table, dict) or not all(isinstance(k, str) for k in table):
            raise bad(key, "a table of NAME: VALUE", table)
    for name, value in spec.searcher_options.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise UserError(f"searcher option {name} must be a finite number, got {value!r}")
