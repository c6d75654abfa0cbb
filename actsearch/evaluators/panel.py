"""The panel task ``panel:A,B,C`` (or a named panel, ``panel:transfer``): one score from several tasks.

A candidate is trained on every member task in turn (the panel's order) with the same seed.
Each member's score s_t is normalised by that task's **ReLU reference** — the mean m_t and the
sample standard deviation sd_t (n − 1) of ReLU's score over the reference seeds — in units of
ReLU's seed spread::

    z_t = (s_t − m_t) / max(sd_t, min_sd)

and the panel's score is their ``mean`` (default) or ``min`` (``--set aggregate=min``): 0 is
ReLU-level on average (or on the worst task), +1 one ReLU seed spread better. A member that
fails (diverged, error, timeout, invalid) makes the seed fail with that status and the member
named in the error; later members are not trained.

The ReLU reference of a member, in this order:

1. a ``table:FILE`` member: its relu row (``score``, and ``score_std`` when the table has that
   column, else 0 → ``min_sd``), so a panel of tables replays exactly, without training;
2. ``--set reference=FILE``: a calibration file written by ``benchmarks/calibrate_tasks.py``
   (``{"tasks": {NAME: {"settings": {...}, "candidates": {"relu": {"mean", "sd"}}}}}``), used for
   a member whose settings equal the file's;
3. otherwise measured: ReLU trained on seeds 0 .. reference_seeds − 1 as a candidate's seeds are (one
   stacked network where the member batches), once per machine, cached
   as JSON in the data cache (``panel-references/``) under the task's name and settings.

Per seed, the metrics hold ``panel.score/NAME`` (the member's score), ``panel.z/NAME`` and the
reference used (``panel.ref_mean/NAME``, ``panel.ref_sd/NAME``); the candidate's result folds the
first two over seeds (the leaderboard's per-task columns). The learned constants
(``learned.NAME``, ``learned.NAME.sd``) are the members' pooled: the mean of each member's mean over
its layers, and the sd over every member's layers (:func:`~actsearch.evaluators.learned.pooled`).
Progress for halving and ASHA: member i's checkpoint k is iteration (checkpoints of members
before i) + k, its score normalised by the member's reference; a seed stopped at a rung scores
that z. The pre-screen and the surrogate probe the first member that has a network. Seeds train
member by member, at once on a member that stacks networks (:meth:`PanelTask.run_pack`).

Settings: ``aggregate``, ``reference``, ``reference_seeds``, ``min_sd``; any other ``NAME=VALUE``
goes to every member that has the setting (``steps=500``), ``TASK.NAME=VALUE`` to one member.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actsearch.evaluators.catalog import PANELS  # noqa: F401 - the named panels, run here
from actsearch.evaluators.protocol import TaskProbe
from actsearch.evaluators.resolve import PANEL_PREFIX, TaskRef
from actsearch.evaluators.result import ERROR, LEARNED, OK, PANEL_SCORE, PANEL_Z, EvalResult, Status
from actsearch.evaluators.task import Task, TaskError
from actsearch.limits import TRAINING_SETTINGS, Range

PREFIX = PANEL_PREFIX
AGGREGATES = ("mean", "min")
REF_MEAN, REF_SD = "panel.ref_mean/", "panel.ref_sd/"


@dataclass
class PanelConfig:
    """Settings of a panel task."""

    tasks: str  # the member tasks, comma-separated, in the order they are trained
    aggregate: str = "mean"  # mean or min of the members' normalised scores
    reference: str | None = None  # a calibration JSON with ReLU's mean/sd per task (else measured, cached)
    reference_seeds: int = 5  # seeds of a measured ReLU reference (0 .. N-1)
    min_sd: float = 0.005  # floor of ReLU's seed spread (a table has one score per function: sd 0)
    checkpoints: int = field(default=1, init=False)  # derived: the members' checkpoints in all


# The ranges of a panel's own numeric settings (its members' are their own).
PANEL_LIMITS: dict[str, Range] = {
    "reference_seeds": Range(1, 1_000),  # seeds of a measured ReLU reference
    "min_sd": Range(0, 1e6, open_lo=True),  # floor of ReLU's seed spread
    "checkpoints": TRAINING_SETTINGS["checkpoints"],
}


@dataclass(frozen=True)
class Reference:
    """ReLU's score on one member task: the zero and the unit of its normalised score."""

    task: str
    mean: float
    sd: float  # sample standard deviation over the reference seeds (0 for a table)
    seeds: int
    source: str  # "table", the calibration file's path, "cache" or "measured"

    def normalise(self, score: float, min_sd: float) -> float:
        """(score − mean) / max(sd, min_sd)."""
        return (score - self.mean) / max(self.sd, min_sd)


def member_names(spec: str) -> tuple[str, ...]:
    """The members of ``A,B,C`` or of a named panel (checked: at least one, no duplicates, no panels)."""
    from actsearch.evaluators.resolve import parse_reference

    return parse_reference(PREFIX + spec).member_names


def absolute(name: str) -> str:
    """The panel name with its ``table:`` members' paths made absolute (for workers elsewhere)."""
    from actsearch.evaluators.resolve import parse_reference

    return parse_reference(name).located


def _split_overrides(names: tuple[str, ...], fields: dict[str, set[str]],
                     overrides: dict[str, Any]) -> tuple[dict, dict[str, dict]]:
    """Panel settings, and each member's own overrides (``fields``: each member's setting names)."""
    own = {f.name for f in dataclasses.fields(PanelConfig) if f.init} - {"tasks"}
    panel: dict[str, Any] = {}
    members: dict[str, dict[str, Any]] = {n: {} for n in names}
    for key, value in overrides.items():
        task, dot, setting = key.rpartition(".")
        if dot and task in members:
            if setting not in fields[task]:
                raise TaskError(f"panel member {task} has no setting {setting!r}")
            members[task][setting] = value
        elif key in own:
            panel[key] = value
        else:
            hit = [n for n in names if key in fields[n]]
            if not hit:
                raise TaskError(f"panel has no setting {key!r}; settings: {', '.join(sorted(own))}, a member's "
                                "setting (steps=...), or TASK.SETTING=VALUE")
            for n in hit:
                members[n][key] = value
    return panel, members


class PanelTask(Task):
    """Trains a candidate on each member task and scores it by the aggregate of normalised scores."""

    def __init__(self, ref: TaskRef | str, *, build: Callable[..., Task], **overrides: Any) -> None:
        """``ref``: the parsed ``panel:...`` reference (or its text); ``build(ref, **settings)`` makes a
        member task (the lookup passes its ``get_task``)."""
        from actsearch.evaluators.resolve import TABLE, parse_reference
        from actsearch.evaluators.settings import apply_overrides

        ref = ref if isinstance(ref, TaskRef) else parse_reference(ref if ref.startswith(PREFIX) else PREFIX + ref)
        self._build_member, self._overrides = build, dict(overrides)
        names = ref.member_names
        defaults = {m.text: build(m) for m in ref.members}  # an unknown name fails here, with the list of tasks
        fields = {n: set() if m.kind is TABLE else {f.name for f in dataclasses.fields(t.config)}
                  for (n, t), m in zip(defaults.items(), ref.members, strict=True)}
        panel, member_overrides = _split_overrides(names, fields, overrides)
        config = apply_overrides("panel", PanelConfig, panel, base=PanelConfig(tasks=",".join(names)),
                                 limits=PANEL_LIMITS)
        super().__init__(PREFIX + ref.target, config)
        if self.config.aggregate not in AGGREGATES:
            raise TaskError(f"panel: aggregate must be one of {', '.join(AGGREGATES)}, got {self.config.aggregate!r}")
        if self.config.reference:  # before any member trains: a missing, special or huge file is one line
            _reference_file(self.config.reference)
        self.ref, self.names = ref, names
        self.members = [build(m, **member_overrides[m.text]) if member_overrides[m.text] else defaults[m.text]
                        for m in ref.members]
        self._per = [t.checkpoints for t in self.members]
        self.config.checkpoints = sum(self._per)
        self.summary_keys = tuple(p + n for n in names for p in (PANEL_SCORE, PANEL_Z))
        self._refs: dict[str, Reference] | None = None

    def probe(self) -> TaskProbe | None:
        """The network and data of the first member that has a probe (the pre-screen and the
        surrogate's features), with the proxy's default learning rate and batch size."""
        first = next((p for p in (t.probe() for t in self.members) if p is not None), None)
        return None if first is None else TaskProbe(first.build, first.inputs, first.targets)

    def with_settings(self, **overrides: Any) -> PanelTask:
        """The panel with more settings (the panel's own, or its members')."""
        if not overrides:
            return self
        return PanelTask(self.ref, build=self._build_member, **{**self._overrides, **overrides})

    def __repr__(self) -> str:
        return f"PanelTask({self.name!r})"

    def references(self, threads: int = 1) -> dict[str, Reference]:
        """The ReLU reference of every member (computed or read once per task object)."""
        if self._refs is None:
            self._refs = {n: reference_for(n, t, self.config, threads) for n, t in zip(self.names, self.members,
                                                                                       strict=True)}
        return self._refs

    def run_seed(self, candidate: Any, seed: int, *, report: Any = None, threads: int = 1,
                 time_limit_s: float | None = None) -> tuple[EvalResult, None]:
        """One seed on every member; the aggregate of the normalised scores (see the module docstring)."""
        from actsearch.evaluators.candidate import as_candidate

        return self._seeds(as_candidate(candidate), [seed], [report], threads, time_limit_s, packs=False)[0]

    def batchable(self, cand: Any) -> bool:
        """Whether a member trains ``cand``'s seeds as one stacked network (then :meth:`run_pack`
        trains the seeds member by member, all at once on such a member)."""
        return any(t.batchable(cand) for t in self.members)

    def run_pack(self, cands: Any, seeds: Any, *, reports: Any = None, threads: int = 1,
                 time_limit_s: float | None = None) -> list[list[tuple[EvalResult, None]]]:
        """Per candidate, per seed: :meth:`run_seed`'s result, the candidate's seeds trained member by
        member — all of them as one stacked network (the member's ``run_pack``) where the member
        batches, else seed by seed. A seed that fails on a member is not trained on later members;
        ``time_limit_s`` is per seed, over all members, as in :meth:`run_seed`."""
        seeds = list(seeds)
        reports = reports or [[None] * len(seeds)] * len(cands)
        return [self._seeds(c, seeds, list(r), threads, time_limit_s, packs=True)
                for c, r in zip(cands, reports, strict=True)]

    def _seeds(self, cand: Any, seeds: list[int], reports: list[Any], threads: int, time_limit_s: float | None,
               packs: bool) -> list[tuple[EvalResult, None]]:
        from actsearch.evaluators.learned import pooled

        start = time.perf_counter()
        refs = self.references(threads)
        spent = [time.perf_counter() - start] * len(seeds)  # per seed: its time so far (its share of a pack)
        metrics: list[dict[str, Any]] = [{} for _ in seeds]
        zs: list[list[float]] = [[] for _ in seeds]
        constants: list[list[dict[str, Any]]] = [[] for _ in seeds]  # per seed: each member's learned values
        done: list[EvalResult | None] = [None] * len(seeds)
        offset, min_sd = 0, self.config.min_sd
        for name, task, per in zip(self.names, self.members, self._per, strict=True):
            live = [i for i in range(len(seeds)) if done[i] is None]
            if not live:
                break
            ref = refs[name]
            hooks = [_normalised(reports[i], offset, ref, self.config.min_sd) for i in live]
            offset += per
            left = [None if time_limit_s is None else max(0.0, time_limit_s - spent[i]) for i in live]
            t0 = time.perf_counter()
            packed = None
            if packs and len(live) > 1 and task.batchable(cand):
                packed = task.run_pack([cand], [seeds[i] for i in live], reports=[hooks], threads=threads,
                                       time_limit_s=None if time_limit_s is None else min(left))
            if packed is not None:
                results = [r for r, _ in packed[0]]
                share = (time.perf_counter() - t0) / len(live)
                times = [share] * len(live)
            else:
                results, times = [], []
                for k, i in enumerate(live):
                    t1 = time.perf_counter()
                    results.append(_run_member(task, cand, seeds[i], hooks[k], threads, left[k]))
                    times.append(time.perf_counter() - t1)
            for i, res, took in zip(live, results, times, strict=True):
                spent[i] += took
                m = metrics[i]
                m[PANEL_SCORE + name] = res.score
                m[REF_MEAN + name], m[REF_SD + name] = ref.mean, ref.sd
                if res.status != OK:  # a seed stopped at a rung scores the z its hook reported there
                    stopped = res.status == Status.STOPPED
                    if stopped:
                        m[PANEL_Z + name] = res.score
                        m[PANEL_SCORE + name] = ref.mean + res.score * max(ref.sd, min_sd)
                    done[i] = EvalResult(res.status, res.score if stopped else 0.0, seeds[i], spent[i], m,
                                         f"{name}: {res.error or res.status}", res.step)
                    continue
                m[PANEL_Z + name] = ref.normalise(res.score, self.config.min_sd)
                zs[i].append(m[PANEL_Z + name])
                constants[i].append({k: v for k, v in res.metrics.items() if k.startswith(LEARNED)})
        for i, z in enumerate(zs):
            if done[i] is None:
                score = statistics.fmean(z) if self.config.aggregate == "mean" else min(z)
                done[i] = EvalResult(OK, score, seeds[i], spent[i], {**metrics[i], **pooled(constants[i])})
        return [(r, None) for r in done]


def _normalised(report: Any, base: int, ref: Reference, min_sd: float) -> Any:
    """``report`` for one member: its checkpoint k is iteration ``base + k``, its score normalised."""
    if report is None:
        return None

    def hook(k: int, score: float) -> None:
        report(base + k, ref.normalise(score, min_sd))

    return hook


def _activation(cand: Any) -> Any:
    """The grammar Activation of a candidate (a table looks it up by fingerprint)."""
    if cand.activation is None:  # a module (a module-only library function, a user's nn.Module)
        raise TaskError(f"panel: {cand.label!r} has no expression, so a table member cannot look it up")
    return cand.activation


def _run_member(task: Any, cand: Any, seed: int, report: Any, threads: int, time_limit_s: float | None) -> EvalResult:
    from actsearch.evaluators.table import TableTask

    if isinstance(task, TableTask):
        return task.evaluate_seed(_activation(cand), seed, report=report)
    try:
        return task.run_seed(cand, seed, report=report, threads=threads, time_limit_s=time_limit_s)[0]
    except TaskError:
        raise
    except Exception as err:  # a member's own failure is the candidate's result
        return EvalResult(ERROR, 0.0, seed, 0.0, {}, f"{type(err).__name__}: {err}"[:300])


def _settings(task: Any) -> dict[str, Any]:
    return json.loads(json.dumps(dataclasses.asdict(task.config), default=str))


def reference_for(name: str, task: Any, config: PanelConfig, threads: int = 1) -> Reference:
    """ReLU's reference on one member (table row, calibration file, cache, or measured now)."""
    from actsearch.evaluators.table import TableTask
    from actsearch.grammar.library import resolve

    if isinstance(task, TableTask):
        row = task.lookup(resolve("relu").fingerprint)
        if row is None or row["status"] != OK:
            raise TaskError(f"panel: table {task.config.path} has no ok relu row (its ReLU reference)")
        return Reference(name, row["score"], float(row.get("score_std") or 0.0), 1, "table")
    settings = _settings(task)
    if config.reference:
        ref = _from_file(config.reference, name, settings)
        if ref is not None:
            return ref
    from actsearch.evaluators.training.loop import NUMERICS

    key = hashlib.sha1(json.dumps([name, settings, config.reference_seeds, NUMERICS],
                                  sort_keys=True).encode()).hexdigest()[:16]
    from actsearch.evaluators.data import cache_dir

    path = cache_dir() / "panel-references" / f"{key}.json"
    if path.is_file():
        try:
            data = json.loads(path.read_text())
            return Reference(name, float(data["mean"]), float(data["sd"]), int(data["seeds"]), "cache")
        except (OSError, ValueError, KeyError, TypeError):
            pass  # a damaged cache entry is measured again
    runs = _relu_runs(task, config.reference_seeds, threads)
    failed = next((r for r in runs if r.status != OK), None)
    if failed is not None:
        raise TaskError(f"panel: the ReLU reference failed on {name}: {failed.error or failed.status}")
    scores = [r.score for r in runs]
    ref = Reference(name, statistics.fmean(scores), statistics.stdev(scores) if len(scores) > 1 else 0.0,
                    len(scores), "measured")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"task": name, "settings": settings, "mean": ref.mean, "sd": ref.sd,
                               "seeds": ref.seeds, "scores": scores}))
    os.replace(tmp, path)
    return ref


def _relu_runs(task: Any, seeds: int, threads: int) -> list[Any]:
    """ReLU on seeds 0 .. seeds − 1, trained the way the panel trains a candidate's seeds (as one
    stacked network where the member batches), so that ReLU as a candidate scores z = 0 exactly."""
    from actsearch.evaluators.candidate import as_candidate

    relu = as_candidate("relu")
    if seeds > 1 and task.batchable(relu):
        packed = task.run_pack([relu], list(range(seeds)), threads=threads)
        if packed is not None:
            return [result for result, _ in packed[0]]
    return [task.evaluate_seed("relu", seed, threads=threads) for seed in range(seeds)]


def _reference_file(path: str) -> bytes:
    """The calibration file's bytes: a regular file of at most ``REFERENCE_FILE_MAX_BYTES`` (a FIFO
    would block and ``/dev/zero`` never end), read without following it past the bound."""
    from actsearch.limits import REFERENCE_FILE_MAX_BYTES

    file = Path(path)
    try:
        if not file.is_file():
            raise TaskError(f"panel: the reference file {path} is not a regular file")
        if file.stat().st_size > REFERENCE_FILE_MAX_BYTES:
            raise TaskError(f"panel: the reference file {path} is larger than {REFERENCE_FILE_MAX_BYTES:,} bytes")
        with file.open("rb") as handle:
            data = handle.read(REFERENCE_FILE_MAX_BYTES + 1)
    except OSError as err:
        raise TaskError(f"panel: cannot read the reference file {path}: {err.strerror or err}") from None
    if len(data) > REFERENCE_FILE_MAX_BYTES:
        raise TaskError(f"panel: the reference file {path} is larger than {REFERENCE_FILE_MAX_BYTES:,} bytes")
    return data


def _from_file(path: str, name: str, settings: dict[str, Any]) -> Reference | None:
    """The file's relu entry for ``name`` when its settings are the task's, else None."""
    try:
        data = json.loads(_reference_file(path))
    except (ValueError, RecursionError) as err:
        raise TaskError(f"panel: cannot read the reference file {path}: {' '.join(str(err).split())[:200]}") from None
    entry = (data.get("tasks") or {}).get(name) if isinstance(data, dict) else None
    if not isinstance(entry, dict) or entry.get("settings") != settings:
        return None
    relu = (entry.get("candidates") or {}).get("relu") or {}
    try:
        mean, sd = float(relu["mean"]), float(relu["sd"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (math.isfinite(mean) and math.isfinite(sd)):
        return None
    return Reference(name, mean, sd, len(relu.get("scores") or []) or 1, str(path))
