"""The Ray Tune executor: one Tune trial per :class:`TrialConfig`, driven by the study.

One Tune trial evaluates one candidate on all its seeds — or a *pack* of ``pack`` candidates
trained together (``--pack G``; one stacked network where the task batches) — in
``candidate_trainable``: a single candidate's intermediate validation scores go to
``ray.tune.report`` (for ASHA, which therefore needs packs of one) and the last report carries the
:class:`~actsearch.search.loop.trials.TrialOutcome` objects, one per candidate (pickled by Ray
like any value; no JSON). The study is wrapped as a Tune ``Searcher`` behind a ``ConcurrencyLimiter``: Tune asks it
for the next config and tells it each finished trial; the study owns the bookkeeping (store,
budget, resume), so Tune's own experiment files are only a cache.

Connecting to Ray (embedded or a cluster) is :mod:`actsearch.search.infra.cluster`.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path
from typing import Any

from actsearch.search.infra.cluster import quiet_environment

quiet_environment()  # before Ray is imported

import ray  # noqa: E402
from ray import tune  # noqa: E402
from ray.tune.search import ConcurrencyLimiter, Searcher  # noqa: E402

from actsearch.evaluators.result import ERROR  # noqa: E402
from actsearch.search.loop.study import Study  # noqa: E402
from actsearch.search.loop.trials import (  # noqa: E402
    TrialConfig,
    TrialEvent,
    TrialOutcome,
    evaluate_trials,
    lost,
    stopped_result,
)
from actsearch.search.searchers.base import FINISHED, WAIT  # noqa: E402

SCHEDULERS = ("fifo", "asha")


class TrialStopped(BaseException):
    """Tune stopped the trial (a scheduler's decision) inside ``tune.report``: Ray says so with
    ``SystemExit(0)``, which is carried past the task's code as this (a ``SystemExit`` of the task's
    own is the task's failure) and turned back into Ray's exit outside it."""


def candidate_trainable(config: dict[str, Any]) -> None:
    """Tune function trainable: evaluate a pack of candidates (often one) on all their seeds,
    reporting a single candidate's progress as it trains."""
    import torch

    trials: list[TrialConfig] = config["trials"]
    torch.set_num_threads(trials[0].threads)
    step = {"n": 0}

    def report(iteration: int, score: float) -> None:
        step["n"] = iteration
        try:
            tune.report({"score": float(score), "iteration": int(iteration), "done": False})
        except SystemExit as stop:
            raise TrialStopped from stop

    try:
        outcomes = evaluate_trials(trials, report if len(trials) == 1 else None)
    except TrialStopped:
        sys.exit(0)  # how Ray's runner thread ends a stopped trial without an error
    node = ray.get_runtime_context().get_node_id()  # provenance: where it ran
    for outcome in outcomes:
        outcome.node = node
    tune.report({"score": max(float(o.result.score) for o in outcomes), "iteration": step["n"] + 1, "done": True,
                 "outcomes": outcomes})


class _StudySearcher(Searcher):
    """Tune ``Searcher`` over a study; Tune's trial ids map to the study's configs."""

    def __init__(self, study: Study, pack: int = 1) -> None:
        super().__init__(metric="score", mode="max")
        self.study, self.pack = study, pack
        self.live: dict[str, list[TrialConfig]] = {}
        self.retries: dict[str, int] = {}
        self.trials: dict[str, Any] = {}  # Tune's trial objects of the live trials (for their error text)

    def suggest(self, trial_id: str) -> dict[str, Any] | None | str:
        configs = self.study.next_trials(self.pack)
        if configs is FINISHED:
            return Searcher.FINISHED
        if configs is WAIT:
            return None
        assert isinstance(configs, list)
        self.live[trial_id] = configs
        for config in configs:
            self.study.started(config)
        return {"trials": configs}

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        configs = self.live.pop(trial_id, None)
        retries = self.retries.pop(trial_id, 0)
        trial = self.trials.pop(trial_id, None)
        why = failure_cause(getattr(trial, "error_file", None)) if error else None
        outcomes = (result or {}).get("outcomes")
        for i, config in enumerate(configs or []):
            outcome = outcomes[i] if isinstance(outcomes, list) and i < len(outcomes) else None
            self.study.complete(_event(config, outcome, result, error, retries, why))

    def __getstate__(self) -> dict[str, Any]:  # Tune pickles its searcher; the study stays in the driver
        return {k: v for k, v in self.__dict__.items() if k not in ("study", "live", "trials")}

    def save(self, checkpoint_path: str) -> None:  # the run store is the source of truth
        Path(checkpoint_path).write_text("{}")

    def restore(self, checkpoint_path: str) -> None:
        pass


def _event(config: TrialConfig, outcome: Any, result: dict[str, Any] | None, error: bool,
           retries: int, why: str | None = None) -> TrialEvent:
    """The event of one candidate of a finished Tune trial; one stopped early (ASHA) keeps its last
    score, a lost one errs (with ``why`` it was lost, when Ray said)."""
    if isinstance(outcome, TrialOutcome):
        return TrialEvent(config, outcome.result, outcome.result.status, outcome.canonical, retries, outcome.node)
    if error or not result:
        return TrialEvent(config, lost(config, *([why] if why else [])), ERROR, retries=retries)
    res = stopped_result(float(result.get("score", 0.0)), int(result.get("iteration", 0)))
    return TrialEvent(config, res, res.status, retries=retries)


ERROR_TAIL_BYTES = 64 * 1024  # of a trial's error file, the end that holds its last failure
WORKER_DIED = "worker process has died"  # Ray's text for an actor whose process ended (os._exit, a crash)


def failure_cause(error_file: str | None) -> str | None:
    """One line saying why Ray lost a trial, from the last failure in Tune's error file of the trial
    (plain text; Ray writes "Failure # N (occurred at ...)" and the error's text for each failure);
    None when there is none. A worker process that died is said so, with Ray's exit type and detail."""
    if not error_file:
        return None
    try:
        with open(error_file, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - ERROR_TAIL_BYTES))
            text = fh.read().decode(errors="replace")
    except OSError:
        return None
    last = re.split(r"^Failure # \d+ \(occurred at [^)]*\)\s*$", text, flags=re.M)[-1]
    flat = " ".join(last.split())
    if not flat:
        return None
    if WORKER_DIED in flat:
        pid = re.search(r"\bpid: (\d+)", last)
        kind = re.search(r"Worker exit type: (\S+)", flat)
        detail = re.search(r"Worker exit detail: (.*?\.)(?: |$)", flat)
        said = ", ".join(x for x in (pid and f"pid {pid.group(1)}", kind and f"exit type {kind.group(1)}",
                                     detail and detail.group(1)) if x)
        return (f"the Ray worker process running the trial died{f' ({said})' if said else ''}: "
                "the task may have called os._exit, crashed or run out of memory")[:400]
    return f"trial failed in Ray: {flat}"[:400]


class _Retries(tune.Callback):
    """Counts, per trial, the worker failures Tune recovered from (FailureConfig retries), and hands
    the searcher each trial object (where Tune keeps the trial's error text)."""

    def __init__(self, searcher: _StudySearcher) -> None:
        self.searcher = searcher

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.searcher.trials[trial.trial_id] = trial

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.searcher.retries[trial.trial_id] = self.searcher.retries.get(trial.trial_id, 0) + 1


class RayTuneExecutor:
    """Runs a study's trials as Ray Tune trials (Ray must be started: see ``cluster.start_ray``)."""

    name = "ray"

    def __init__(self, *, storage: str | os.PathLike, name: str, workers: int, cpus_per_trial: float = 1.0,
                 gpus_per_trial: float = 0.0, scheduler: str | None = None, max_failures: int = 2,
                 pack: int = 1) -> None:
        if pack > 1 and scheduler == "asha":
            raise ValueError("ASHA stops trials by their progress, so it needs packs of one")
        self.storage, self.run_name, self.workers, self.pack = storage, name, workers, max(1, int(pack))
        self.cpus_per_trial, self.gpus_per_trial = cpus_per_trial, gpus_per_trial
        self.scheduler, self.max_failures = scheduler, max_failures

    def run(self, study: Study) -> bool:
        """Run Tune trials until the study is finished; returns whether the user interrupted it."""
        searcher = _StudySearcher(study, self.pack)
        sched = None
        if self.scheduler == "asha":
            from ray.tune.schedulers import ASHAScheduler

            sched = ASHAScheduler(time_attr="training_iteration", max_t=10_000, grace_period=1, reduction_factor=3)
        trainable = tune.with_resources(candidate_trainable, {"cpu": self.cpus_per_trial, "gpu": self.gpus_per_trial})
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(
                search_alg=ConcurrencyLimiter(searcher, max_concurrent=max(1, self.workers)), scheduler=sched,
                num_samples=-1, reuse_actors=True, metric="score", mode="max",
                trial_name_creator=lambda t: t.trial_id, trial_dirname_creator=lambda t: t.trial_id),
            run_config=tune.RunConfig(
                name=self.run_name, storage_path=str(Path(self.storage).resolve()), verbose=0,
                callbacks=[_Retries(searcher)], failure_config=tune.FailureConfig(max_failures=self.max_failures),
                checkpoint_config=tune.CheckpointConfig(num_to_keep=1)),
        )
        quiet = logging.getLogger("ray.tune")
        level = quiet.level
        quiet.setLevel(logging.CRITICAL)  # worker failures are retried and counted, not dumped
        try:
            tuner.fit()
        finally:
            quiet.setLevel(level)
        return not study.finished
