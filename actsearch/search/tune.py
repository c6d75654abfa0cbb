"""Ray Tune adapter: the trainable, our searchers as a Tune searcher, and the Ray connection.

One Tune trial evaluates one candidate on all its seeds (``candidate_trainable``): the evaluator's
intermediate validation scores go to ``ray.tune.report`` (for ASHA) and the last report carries
the whole :class:`CandidateResult` as JSON. The driver side is a ``TrialSource`` — anything with
``next_config() -> dict | WAIT | FINISHED`` and ``complete(config, result, error, retries)`` — that
``run_trials`` wraps as a Tune ``Searcher`` behind a ``ConcurrencyLimiter``; the source owns the
bookkeeping (run store, budget, resume), so Tune's own experiment files are only a cache.

Connecting to Ray (embedded or a cluster) is :mod:`actsearch.search.cluster`.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from actsearch.errors import UserError
from actsearch.search.cluster import quiet_environment

quiet_environment()  # before Ray is imported

import ray  # noqa: E402
from ray import tune  # noqa: E402
from ray.tune.search import ConcurrencyLimiter, Searcher  # noqa: E402

from actsearch.search.searchers.base import FINISHED, WAIT  # noqa: E402


class TrialSource(Protocol):
    """The driver's bookkeeping: next trial config (or WAIT / FINISHED), and each finished trial."""

    def next_config(self) -> dict[str, Any] | object: ...

    def complete(self, config: dict[str, Any], result: dict[str, Any] | None, error: bool, retries: int) -> None: ...


# -- the trainable (runs in Ray workers) ------------------------------------------------------------
_TASKS: dict[str, Any] = {}  # per worker process: task key -> Task (data loaded once per worker)


def _task(name: str, overrides: dict[str, Any]) -> Any:
    from actsearch.evaluators import get_task

    key = json.dumps([name, overrides], sort_keys=True)
    if key not in _TASKS:
        _TASKS[key] = get_task(name, **overrides)
    return _TASKS[key]


def evaluate_config(config: dict[str, Any], report: Callable[[int, float], None] | None = None) -> dict[str, Any]:
    """Evaluate one trial config; returns the final report (``candidate`` = CandidateResult JSON)."""
    from actsearch.evaluators import evaluate
    from actsearch.evaluators.result import ERROR, INVALID, CandidateResult, EvalResult
    from actsearch.evaluators.table import TableTask
    from actsearch.search.driver import evaluate_proposal
    from actsearch.search.searchers.base import Proposal

    start = time.perf_counter()
    seeds = [int(s) for s in config["seeds"]]
    canonical = None
    try:
        task = _task(config["task"], config.get("task_overrides") or {})
        if isinstance(task, TableTask):
            proposal = Proposal("", config["expression"], config["fingerprint"], config.get("params") or {})
            result = evaluate_proposal(proposal, task, seeds)
        else:
            from actsearch.grammar import parse

            if config.get("library"):
                candidate: Any = config["library"]
            else:
                candidate = parse(config["expression"], **(config.get("params") or {}))
                try:
                    canonical = candidate.canonical
                except Exception:  # noqa: BLE001 - the canonical text is optional
                    canonical = None
            result = evaluate(candidate, task, seeds, report=report, threads=int(config.get("threads", 1)),
                              time_limit_s=config.get("time_limit_s"))
    except UserError as err:
        result = CandidateResult.from_runs([EvalResult(INVALID, 0.0, s, 0.0, {}, str(err)) for s in seeds])
    except Exception as err:  # noqa: BLE001 - a failing candidate is a result, not a crash
        result = CandidateResult.from_runs([EvalResult(ERROR, 0.0, s, 0.0, {}, f"{type(err).__name__}: {err}")
                                            for s in seeds])
    if not result.wall_s:
        result.wall_s = time.perf_counter() - start
    return {"score": float(result.score), "candidate": json.dumps(result.to_dict()), "canonical": canonical,
            "done": True}


def candidate_trainable(config: dict[str, Any]) -> None:
    """Tune function trainable: evaluate one candidate on all its seeds, reporting as it trains."""
    import torch

    torch.set_num_threads(int(config.get("threads", 1)))
    step = {"n": 0}

    def report(iteration: int, score: float) -> None:
        step["n"] = iteration
        tune.report({"score": float(score), "iteration": int(iteration), "done": False})

    final = evaluate_config(config, report)
    final["iteration"] = step["n"] + 1
    final["node"] = ray.get_runtime_context().get_node_id()  # provenance: where it ran
    tune.report(final)


# -- the driver side: our source as a Tune searcher -----------------------------------------------
class _SourceSearcher(Searcher):
    """Tune ``Searcher`` over a ``TrialSource``; Tune's trial ids map to the source's configs."""

    def __init__(self, source: TrialSource) -> None:
        super().__init__(metric="score", mode="max")
        self.source = source
        self.live: dict[str, dict[str, Any]] = {}
        self.retries: dict[str, int] = {}

    def suggest(self, trial_id: str) -> dict[str, Any] | None | str:
        config = self.source.next_config()
        if config is FINISHED:
            return Searcher.FINISHED
        if config is WAIT or config is None:
            return None
        self.live[trial_id] = config
        return config

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        config = self.live.pop(trial_id, None)
        if config is not None:
            self.source.complete(config, result, error, self.retries.pop(trial_id, 0))

    def __getstate__(self) -> dict[str, Any]:  # Tune pickles its searcher; the source stays in the driver
        return {k: v for k, v in self.__dict__.items() if k not in ("source", "live")}

    def save(self, checkpoint_path: str) -> None:  # the run store is the source of truth
        Path(checkpoint_path).write_text("{}")

    def restore(self, checkpoint_path: str) -> None:
        pass


class _Retries(tune.Callback):
    """Counts, per trial, the worker failures Tune recovered from (FailureConfig retries)."""

    def __init__(self, searcher: _SourceSearcher) -> None:
        self.searcher = searcher

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.searcher.retries[trial.trial_id] = self.searcher.retries.get(trial.trial_id, 0) + 1


@dataclass
class TrialsOutcome:
    interrupted: bool  # fit() returned early (Ctrl-C / SIGTERM) before the source finished
    wall_s: float
    errors: list[str] = field(default_factory=list)


def run_trials(source: TrialSource, *, storage: str | os.PathLike, name: str, workers: int,
               cpus_per_trial: float = 1.0, gpus_per_trial: float = 0.0, scheduler: str | None = None,
               max_failures: int = 2) -> TrialsOutcome:
    """Run Tune trials from ``source`` until it returns FINISHED (or the user interrupts)."""
    searcher = _SourceSearcher(source)
    sched = None
    if scheduler == "asha":
        from ray.tune.schedulers import ASHAScheduler

        sched = ASHAScheduler(time_attr="training_iteration", max_t=10_000, grace_period=1, reduction_factor=3)
    elif scheduler not in (None, "", "fifo"):
        raise UserError(f"unknown scheduler {scheduler!r}; valid: fifo, asha")
    trainable = tune.with_resources(candidate_trainable, {"cpu": cpus_per_trial, "gpu": gpus_per_trial})
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=ConcurrencyLimiter(searcher, max_concurrent=max(1, workers)), scheduler=sched,
            num_samples=-1, reuse_actors=True, metric="score", mode="max",
            trial_name_creator=lambda t: t.trial_id, trial_dirname_creator=lambda t: t.trial_id),
        run_config=tune.RunConfig(
            name=name, storage_path=str(Path(storage).resolve()), verbose=0, callbacks=[_Retries(searcher)],
            failure_config=tune.FailureConfig(max_failures=max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1)),
    )
    start = time.perf_counter()
    quiet = logging.getLogger("ray.tune")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # worker failures are retried and counted, not dumped
    try:
        grid = tuner.fit()
    finally:
        quiet.setLevel(level)
    errors = [str(e).splitlines()[0] for e in getattr(grid, "errors", [])][:5]
    finished = getattr(source, "finished", True)
    return TrialsOutcome(interrupted=not finished, wall_s=time.perf_counter() - start, errors=errors)
