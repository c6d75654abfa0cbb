"""Sequential searches in this process, for benchmarks and replays: the real loop (:class:`Study`
over an in-memory store) driven by the in-process executor, with a ``stop`` test after each trial.
``replay(searcher, task)`` returns the trials in order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from actsearch.evaluators.result import CandidateResult
from actsearch.results.memory import MemoryStore
from actsearch.results.store import Store
from actsearch.search.loop.inprocess import InProcessExecutor
from actsearch.search.loop.study import Study
from actsearch.search.loop.trials import TaskSpec, TrialConfig, bind_task
from actsearch.search.searchers.base import Searcher


@dataclass
class Trial:
    config: TrialConfig
    result: CandidateResult


def replay(searcher: Searcher, task: Any, *, budget: int | None = None, seeds: Sequence[int] = (0,),
           stop: Callable[[Trial], bool] | None = None, screen: Any = None,
           store: Store | None = None, pack: int = 1) -> list[Trial]:
    """Run ``searcher`` on ``task`` (a Task, a score table, or a name) until it finishes, ``budget``
    trials ran, or ``stop(trial)``; ``screen``: a pre-screen (None: off); ``pack``: trials trained
    together as one stacked network where the task batches (:func:`evaluate_trials`)."""
    ref = TaskSpec.of(task) if isinstance(task, str) else bind_task(task)
    study = Study(store if store is not None else MemoryStore(), task=ref.name, searcher=searcher,
                  budget=budget if budget is not None else 10**12, seeds=len(seeds), screen=screen)
    study.ref = ref
    trials: list[Trial] = []

    def seen(config: TrialConfig, result: CandidateResult) -> bool:
        trials.append(Trial(config, result))
        return stop is not None and bool(stop(trials[-1]))

    InProcessExecutor(pack, on_trial=seen).run(study)
    if study.failure is not None:  # a failed write, or every proposal rejected (AllRejected)
        raise study.failure
    return trials
