"""The pre-screen: reject a candidate before training when its initial signal propagation is broken.

One forward and one backward pass of the task's child network at initialisation, with the
candidate's learnable constants at their initial values (features group (c), see
:mod:`actsearch.search.screening.features`). A candidate is rejected — recorded as ``invalid`` with the
reason, never trained — when that pass is non-finite, or when the std of the last hidden
layer's output explodes or vanishes beyond ``Thresholds``. The search loop asks a ``PreScreen``
about every new proposal (on by default); the ``surrogate`` searcher orders its pool by the same
verdicts, computed once by the shared featuriser.

The default thresholds were chosen from data, on the scored x-gated replay table
(``benchmarks/data/x-gated-mnist1d.csv``, 320 candidates, mnist1d's deep MLP): every candidate
of the top 5 % had a last-layer log std in [-1.5, 2.4]; the band is that range widened by 5 nats
(a factor ~150 in std) on each side and rounded outwards, [-7, 8]. With the non-finite check it
keeps the whole top 5 % and removes 94 % of the candidates that diverged or failed (59 of 63);
``benchmarks/bench_surrogate.py`` re-derives the band and reports what it keeps and removes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from actsearch.errors import UserError
from actsearch.evaluators.result import INVALID, CandidateResult, EvalResult
from actsearch.search.screening.features import Featurizer, Probe, ProbeTimeout, shared_featurizer


@dataclass(frozen=True)
class Thresholds:
    """Bounds on the initial pass; outside them a candidate is rejected."""

    max_log_std: float = 8.0  # log std of the last hidden layer's output above this: exploding
    min_log_std: float = -7.0  # ... below this: vanishing (the signal dies before the output)


DEFAULT = Thresholds()
TIME_LIMIT_S = 30.0  # the initial pass of one candidate; a network that needs longer is rejected
MAX_REJECTED_IN_ROW = 1000  # proposals rejected one after another before a run stops (see ProposalScreen)


class AllRejected(UserError):
    """The pre-screen rejected every proposal for a long stretch: the run stops instead of looping."""


def reason(feats: dict[str, float], thresholds: Thresholds = DEFAULT) -> str | None:
    """Why propagation features ``feats`` (group (c)) fail the pre-screen, or None if they pass."""
    log_std = feats["log_std_last"]
    if feats["prop_nonfinite"] or not math.isfinite(log_std):
        return "pre-screen: non-finite forward/backward pass at initialisation"
    if log_std > thresholds.max_log_std:
        return (f"pre-screen: exploding signal at initialisation (last-layer std {_exp(log_std)}"
                f" > {_exp(thresholds.max_log_std)})")
    if log_std < thresholds.min_log_std:
        return (f"pre-screen: vanishing signal at initialisation (last-layer std {_exp(log_std)}"
                f" < {_exp(thresholds.min_log_std)})")
    return None


def _exp(log: float) -> str:
    return f"{math.exp(log):.3g}" if log < 700 else "inf"


class PreScreen:
    """``PreScreen(task)(act)`` → the reason to reject ``act`` without training, or None.

    ``task`` is a task name or ``Task`` (its child network and a real batch), or None for the
    task-free Gaussian probe; ``featurizer`` (default: the process's shared one for ``task``, the
    one the ``surrogate`` ranks with) or ``probe`` override it. Verdicts are cached by fingerprint.
    """

    def __init__(self, task: Any = None, thresholds: Thresholds = DEFAULT, probe: Probe | None = None,
                 featurizer: Featurizer | None = None, time_limit_s: float | None = None) -> None:
        if featurizer is None:
            featurizer = Featurizer(probe=probe) if probe is not None else shared_featurizer(task)
        self.featurizer = featurizer
        self.probe = featurizer.probe
        self.thresholds = thresholds
        self.time_limit_s = TIME_LIMIT_S if time_limit_s is None else time_limit_s
        self._cache: dict[str, str | None] = {}
        self.seconds = 0.0  # spent judging candidates (the run's timings: ``prescreen_s``)

    def features(self, act: Any) -> dict[str, float]:
        """Group (c) at the candidate's initial constants (:class:`ProbeTimeout` past the time limit)."""
        return self.featurizer.initial_propagation(act, deadline=time.perf_counter() + self.time_limit_s)

    def __call__(self, act: Any) -> str | None:
        key = act.fingerprint
        if key not in self._cache:
            start = time.perf_counter()
            try:
                self._cache[key] = reason(self.features(act), self.thresholds)
            except ProbeTimeout:
                self._cache[key] = (f"pre-screen: the initial pass took longer than {self.time_limit_s:g} s "
                                    "(the network is too large to probe)")
            finally:
                self.seconds += time.perf_counter() - start
        return self._cache[key]

    def result(self, act: Any, seed: int = 0) -> CandidateResult | None:
        """An ``invalid`` result carrying the reason when ``act`` is rejected, else None."""
        why = self(act)
        if why is None:
            return None
        run = EvalResult(status=INVALID, score=0.0, seed=seed, error=why)
        return CandidateResult.from_runs([run])
