"""What travels between the loop and an executor: a :class:`TrialConfig` out, a :class:`TrialEvent`
back (typed dataclasses, pickled by Ray as they are — no dicts, no JSON inside Tune results), and
:func:`evaluate_trial`, which every executor runs to turn the one into the other —
:func:`evaluate_trials` for a *pack* of trials that one worker trains together (one stacked
network for all their seeds where the task batches; one outcome per trial, exactly as if each had
run alone).

A trial that carries a :class:`~actsearch.search.loop.halving.Cut` (successive halving; one-seed
trials only) gets report hooks that stop it at a rung where its score is below the rung's
threshold (:func:`~actsearch.search.loop.halving.cut_hook`): in a pack only that member stops, and
the scores it reached at the rungs are stored with its seed (``metrics["rungs"]``), whether it
stopped or went on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from actsearch.errors import UserError
from actsearch.evaluators.result import ERROR, INVALID, CandidateResult, EvalResult, MemberStop, Status
from actsearch.results.records import Role
from actsearch.search.loop.halving import RUNGS_KEY, Cut, cut_hook, reached


@dataclass(frozen=True)
class TaskSpec:
    """A task by reference plus its settings, as a trial carries it (a worker builds it once and keeps it)."""

    name: str
    settings: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, name: str, settings: dict[str, Any] | None = None) -> TaskSpec:
        return cls(name, tuple(sorted((settings or {}).items())))

    def build(self) -> Any:
        """The Task (cached per process: data is loaded once per worker)."""
        if self not in _TASKS:
            from actsearch.evaluators import get_task

            _TASKS[self] = get_task(self.name, **dict(self.settings))
        return _TASKS[self]


_TASKS: dict[TaskSpec, Any] = {}


def bind_task(task: Any) -> TaskSpec:
    """A reference to a Task object already built in this process (in-process executors only)."""
    ref = TaskSpec(f"{task.name}@{id(task):x}")
    _TASKS[ref] = task
    return ref


@dataclass(frozen=True)
class TrialConfig:
    """One trial: evaluate ``expression`` (or the library activation ``reference``) on ``seeds``."""

    key: int  # the store row the result belongs to
    expression: str
    fingerprint: str
    task: TaskSpec
    seeds: tuple[int, ...]
    params: dict[str, float] = field(default_factory=dict)
    reference: str | None = None  # a library name: evaluate the library's activation
    threads: int = 1
    time_limit_s: float | None = None
    cut: Cut | None = None  # successive halving: the rung thresholds it is held to (one seed only)


@dataclass
class TrialOutcome:
    """What a worker sends back with its last report."""

    result: CandidateResult
    canonical: str | None = None
    node: str | None = None


@dataclass
class TrialEvent:
    """A finished trial, as an executor hands it to the loop."""

    config: TrialConfig
    result: CandidateResult
    status: Status  # the result's status, or STOPPED (early stop) / ERROR (the trial was lost)
    canonical: str | None = None
    retries: int = 0  # worker failures the executor recovered from
    node: str | None = None


def lost(config: TrialConfig, why: str = "trial failed in Ray") -> CandidateResult:
    """The result of a trial whose worker failed for good: one error run per seed."""
    return CandidateResult.from_runs([EvalResult(ERROR, 0.0, s, 0.0, {}, why) for s in config.seeds])


def evaluate_trial(config: TrialConfig, report: Any = None) -> TrialOutcome:
    """Evaluate one trial config (a failing candidate is a result, never an exception)."""
    from actsearch.evaluators import evaluate
    from actsearch.evaluators.table import TableTask

    start = time.perf_counter()
    seeds = list(config.seeds)
    canonical = None
    seen: dict[int, float] = {}
    hook = _hook(config, report, seen)
    try:
        task = config.task.build()
        if isinstance(task, TableTask):  # a replay: looked up by fingerprint, nothing parsed
            result = table_result(task, config.fingerprint, seeds)
        else:
            from actsearch.grammar import parse

            candidate: Any = config.reference or parse(config.expression, **config.params)
            if config.reference is None:
                canonical = _canonical(candidate)
            result = evaluate(candidate, task, seeds, report=hook, threads=config.threads,
                              time_limit_s=config.time_limit_s)
    except MemberStop as cut:  # a task whose own run_seed let the stop through: its rung score
        from actsearch.evaluators.task import stopped

        result = CandidateResult.from_runs([stopped(cut, seeds[0], time.perf_counter() - start)])
    except UserError as err:
        result = CandidateResult.from_runs([EvalResult(INVALID, 0.0, s, 0.0, {}, str(err)) for s in seeds])
    except BaseException as err:  # a failing candidate is a result, not a crash
        if not task_failure(err):
            raise  # the user's Ctrl-C
        from actsearch.evaluators.task import exit_message

        why = exit_message(err) or f"{type(err).__name__}: {err}"
        result = CandidateResult.from_runs([EvalResult(ERROR, 0.0, s, 0.0, {}, why) for s in seeds])
    if not result.wall_s:
        result.wall_s = time.perf_counter() - start
    _rungs(result, seen)
    return TrialOutcome(result, canonical)


def _hook(config: TrialConfig, report: Any, seen: dict[int, float]) -> Any:
    """The trial's report hook: ``report`` as given, or composed with its cut (one seed only)."""
    if config.cut is None or len(config.seeds) != 1:
        return report
    return cut_hook(config.cut, report, seen)


def _rungs(result: CandidateResult, seen: dict[int, float]) -> None:
    """Store the rung scores a one-seed trial reached with its seed, and for one stopped at a rung
    the step it reached and the rung with the candidate (the row's metrics)."""
    if not result.runs:
        return
    run = result.runs[0]
    if seen:
        run.metrics[RUNGS_KEY] = reached(seen)
    if result.status == Status.STOPPED:
        for key in ("steps", "rung"):
            if key in run.metrics:
                result.metrics[key] = run.metrics[key]


def task_failure(err: BaseException) -> bool:
    """Whether ``err``, raised while a trial ran, is the task's failure rather than a stop of the run:
    any ``Exception``, a ``SystemExit`` (task code calling ``sys.exit``), and a ``KeyboardInterrupt``
    off the main thread (a Ray trainable's: a signal reaches only the main thread, so it is the
    task's own). On the main thread a ``KeyboardInterrupt`` may be the user's Ctrl-C."""
    if isinstance(err, KeyboardInterrupt):
        return threading.current_thread() is not threading.main_thread()
    return isinstance(err, (Exception, SystemExit))


def evaluate_trials(configs: Sequence[TrialConfig], report: Any = None) -> list[TrialOutcome]:
    """Evaluate a pack of trials: one :class:`TrialOutcome` per config, in order.

    Configs with the same task, seeds, threads and time limit train together through
    :func:`~actsearch.evaluators.scoring.evaluate_pack` (a stacked network where the task batches;
    seed by seed otherwise). A config whose text does not parse is ``invalid`` and the others go on;
    a pack that fails as a whole falls back to evaluating its trials one by one, so each failure is
    recorded as it would be alone. ``report`` (progress for a scheduler) is only for a pack of one;
    a config's ``cut`` stops that member alone at a rung (see the module docstring).
    """
    if len(configs) == 1:
        return [evaluate_trial(configs[0], report)]
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, c in enumerate(configs):
        groups.setdefault((c.task, c.seeds, c.threads, c.time_limit_s), []).append(i)
    out: list[TrialOutcome | None] = [None] * len(configs)
    for members in groups.values():
        for i, outcome in zip(members, _evaluate_group([configs[i] for i in members]), strict=True):
            out[i] = outcome
    return [o for o in out if o is not None]


def _evaluate_group(configs: list[TrialConfig]) -> list[TrialOutcome]:
    """Trials that share task, seeds, threads and time limit, trained as one pack."""
    from actsearch.evaluators.scoring import evaluate_pack
    from actsearch.evaluators.table import TableTask
    from actsearch.grammar import parse

    first = configs[0]
    start = time.perf_counter()
    try:
        task = first.task.build()
    except BaseException as err:  # each trial records the failure itself
        if not task_failure(err):
            raise
        task = None
    if task is None or isinstance(task, TableTask):
        return [evaluate_trial(c) for c in configs]
    out: list[TrialOutcome | None] = [None] * len(configs)
    packed: list[tuple[int, Any, str | None]] = []  # (index, candidate, canonical text)
    for i, c in enumerate(configs):
        try:
            cand: Any = c.reference or parse(c.expression, **c.params)
        except Exception:  # noqa: BLE001 - the trial's own evaluation records why
            out[i] = evaluate_trial(c)
            continue
        packed.append((i, cand, None if c.reference else _canonical(cand)))
    if packed:
        seen: list[dict[int, float]] = [{} for _ in packed]
        hooks = [_hook(configs[i], None, seen[n]) for n, (i, _, _) in enumerate(packed)]
        try:
            results = evaluate_pack([cand for _, cand, _ in packed], task, list(first.seeds), reports=hooks,
                                    threads=first.threads, time_limit_s=first.time_limit_s)
        except BaseException as err:  # the pack failed as a whole: each trial alone records why
            if not task_failure(err):
                raise
            return [evaluate_trial(c) for c in configs]
        share = (time.perf_counter() - start) / len(packed)
        for n, ((i, _, canonical), result) in enumerate(zip(packed, results, strict=True)):
            result.wall_s = result.wall_s or share
            _rungs(result, seen[n])
            out[i] = TrialOutcome(result, canonical)
    return [o for o in out if o is not None]


def _canonical(candidate: Any) -> str | None:
    try:
        return candidate.canonical
    except Exception:  # noqa: BLE001 - the canonical text is optional
        return None


def table_result(task: Any, fingerprint: str, seeds: list[int]) -> CandidateResult:
    """A score table's result for ``fingerprint`` on each seed (missing: invalid)."""
    row = task.lookup(fingerprint)
    runs = [EvalResult(INVALID, 0.0, s, 0.0, {}, "not in the score table") if row is None
            else EvalResult(row["status"], row["score"] if row["status"] == Status.OK else 0.0, s, row["wall_s"])
            for s in seeds]
    return CandidateResult.from_runs(runs)


@dataclass
class StudyEvent:
    """What a study reports after each stored outcome (for progress views)."""

    expression: str
    role: Role
    status: Status
    score: float
    score_std: float
    evaluated: int  # finished search trials in the store
    budget: int
    retries: int = 0
    prescreen: str | None = None  # the reason, when the pre-screen rejected it untrained
    rescored: int | None = None  # seeds in all, when the event re-scored a stored row


def seed_list(seeds: int | Sequence[int]) -> tuple[int, ...]:
    """The seeds of a study: ``n`` means 0 .. n-1; a list (a confirmation's fresh range) is kept."""
    return tuple(range(seeds)) if isinstance(seeds, int) else tuple(int(s) for s in seeds)


def stopped_result(score: float, iteration: int) -> CandidateResult:
    """The result of a trial an early-stopping scheduler stopped: its last reported score."""
    return CandidateResult(status=Status.STOPPED, score=score, score_std=0.0, error=f"stopped early at report {iteration}")
