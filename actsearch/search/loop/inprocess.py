"""The in-process executor: the one loop that drives a study in this process (tests, replays and
benchmarks, the Python API, ``--workers 1`` runs that need no Ray), one trial or one pack of
``pack`` trials at a time.

``evaluate`` turns a pack of trial configs into outcomes (default: train them,
:func:`~actsearch.search.loop.trials.evaluate_trials`; a benchmark passes a score table's lookup);
``on_trial(config, result)`` sees every stored outcome and returns True to stop after the pack."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from actsearch.evaluators.result import CandidateResult
from actsearch.search.loop.study import Study
from actsearch.search.loop.trials import TrialConfig, TrialEvent, TrialOutcome, evaluate_trials
from actsearch.search.searchers.base import FINISHED, WAIT

Evaluate = Callable[[Sequence[TrialConfig]], Sequence[TrialOutcome]]


class InProcessExecutor:
    """Serial executor: ``run(study)`` until the study is finished or ``on_trial`` stops it; returns
    whether it was stopped before the end."""

    name = "in-process"

    def __init__(self, pack: int = 1, *, evaluate: Evaluate | None = None,
                 on_trial: Callable[[TrialConfig, CandidateResult], Any] | None = None) -> None:
        self.pack = max(1, int(pack))
        self.evaluate: Evaluate = evaluate if evaluate is not None else evaluate_trials
        self.on_trial = on_trial

    def run(self, study: Study) -> bool:
        while True:
            configs = study.next_trials(self.pack)
            if configs is FINISHED:
                return False
            if configs is WAIT:  # nothing runs here, so a waiting searcher could never continue
                raise RuntimeError(f"searcher {study.name!r} waits with no trial running")
            assert isinstance(configs, list)
            for config in configs:
                study.started(config)
            stop = False
            for config, outcome in zip(configs, self.evaluate(configs), strict=True):
                study.complete(TrialEvent(config, outcome.result, outcome.result.status, outcome.canonical))
                if self.on_trial is not None and self.on_trial(config, outcome.result):
                    stop = True
            if stop:
                return True
