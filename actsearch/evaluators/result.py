"""The result types every evaluator returns and every later part stores and ranks.

``EvalResult`` is one training run (one seed); ``CandidateResult`` folds the seeds of one
candidate on one task. Both are plain data with ``to_dict``/``from_dict`` so they cross process
boundaries (Ray) and go into the run store as JSON.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

from actsearch.textenum import TextEnum


class Status(TextEnum):
    """The status of a seed's run, a candidate, or a stored row. Only ``OK`` has a meaningful
    score; the others score 0.0 (``STOPPED`` keeps the last score it reported)."""

    OK = "ok"
    DIVERGED = "diverged"  # loss, weights or score not finite
    ERROR = "error"  # the training raised, or the trial was lost
    TIMEOUT = "timeout"  # the time limit was reached
    INVALID = "invalid"  # never trained: trivial, unparsable, pre-screened or not in a score table
    STOPPED = "stopped"  # stopped early by a scheduler (halving, ASHA); the score is the last one reported
    PENDING = "pending"  # a stored trial that has no result yet


# What one training run (one seed) ends with; short names for the members used everywhere
STATUSES = (Status.OK, Status.DIVERGED, Status.ERROR, Status.TIMEOUT, Status.INVALID)
OK, DIVERGED, ERROR, TIMEOUT, INVALID = STATUSES

# Metric keys of a panel task (``panel:A,B``): each member task's own score and its normalised
# score, ``PANEL_SCORE + "mnist1d-cnn"`` (see actsearch/evaluators/panel.py)
PANEL_SCORE, PANEL_Z = "panel.score/", "panel.z/"
# Metric keys of a seed's learned constants at the end of training (see actsearch/evaluators/learned.py):
# ``LEARNED + "beta"`` the mean over the network's activation instances (layers, channels),
# ``LEARNED + "beta" + LEARNED_SD`` their population standard deviation
LEARNED, LEARNED_SD = "learned.", ".sd"


class MemberStop(Exception):
    """Raised by a member's ``report`` hook when a scheduler cuts it at a rung (successive halving):
    the training loop records that member ``stopped`` with this score at the step it reached, and the
    other members of its pack go on. It carries the rung (1, 2 ...), the member's score there and the
    cut it fell below."""

    def __init__(self, rung: int, score: float, cut: float) -> None:
        super().__init__(f"stopped at rung {rung}: {score:.4g} < cut {cut:.4g}")
        self.rung, self.score, self.cut = int(rung), float(score), float(cut)

    def describe(self, step: int | None, steps: int | None) -> str:
        """The stopped result's error text: ``stopped at rung 1 (step 333 of 3000): 0.612 < cut 0.640``."""
        where = "" if step is None else f" (step {step}{'' if steps is None else f' of {steps}'})"
        return f"stopped at rung {self.rung}{where}: {self.score:.3f} < cut {self.cut:.3f}"


@dataclass
class EvalResult:
    """One training run of one candidate on one task with one seed."""

    status: Status  # one of STATUSES (text is parsed: ``EvalResult("ok", ...)`` works)
    score: float  # the task's score (validation accuracy for classification); 0.0 unless ok
    seed: int
    wall_s: float = 0.0
    metrics: dict[str, Any] = field(default_factory=dict)  # test_acc, losses, steps_per_s, dnr ...
    error: str | None = None  # message for error/invalid/timeout/stopped, "step N" detail for diverged
    step: int | None = None  # step at which training stopped (diverged/timeout/stopped)

    def __post_init__(self) -> None:
        self.status = Status(self.status)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalResult:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass
class CandidateResult:
    """All seeds of one candidate on one task, with the aggregate the searchers rank by."""

    status: Status  # ok if every seed is ok, else the first failing seed's status
    score: float  # mean over seeds (failed seeds count 0.0; a stopped seed its rung score)
    score_std: float  # population std over seeds (0.0 for one seed)
    runs: list[EvalResult] = field(default_factory=list)
    wall_s: float = 0.0
    metrics: dict[str, Any] = field(default_factory=dict)  # cross-seed metrics, e.g. "pd"
    error: str | None = None

    def __post_init__(self) -> None:
        self.status = Status(self.status)

    @classmethod
    def from_runs(cls, runs: list[EvalResult], metrics: dict[str, Any] | None = None) -> CandidateResult:
        """Aggregate seed runs: mean/std of scores, first failure decides the status (a stopped seed
        keeps the score it was stopped with)."""
        if not runs:
            return cls(status=INVALID, score=0.0, score_std=0.0, error="no runs")
        failed = [r for r in runs if r.status != OK]
        scores = [r.score if r.status in (OK, Status.STOPPED) and math.isfinite(r.score) else 0.0 for r in runs]
        return cls(
            status=failed[0].status if failed else OK,
            score=statistics.fmean(scores),
            score_std=statistics.pstdev(scores) if len(scores) > 1 else 0.0,
            runs=list(runs),
            wall_s=sum(r.wall_s for r in runs),
            metrics=dict(metrics or {}),
            error=failed[0].error if failed else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CandidateResult:
        kw = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        kw["runs"] = [EvalResult.from_dict(r) for r in data.get("runs", [])]
        return cls(**kw)
