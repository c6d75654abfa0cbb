"""Successive halving over packs: every one-seed trial trains briefly, the weak ones stop at a rung.

Rungs are checkpoints. A task reports ``report(checkpoint, score)`` for each member at its
``checkpoints`` evenly spaced steps; a rung is a fraction of the steps (:data:`RUNG_FRACTIONS`)
that falls on one of them, so a run with halving sets the task's ``checkpoints`` to a multiple of
:func:`default_checkpoints` (9 for the default rungs 1/9 and 1/3). Checkpoint evaluations draw no
random numbers: a member that reaches the end scores exactly as it would under full fidelity.

The rule is asynchronous successive halving (ASHA): at rung r a member goes on when its score is
in the top 1/:data:`ETA` of the scores recorded at rung r so far in this run, and nobody is cut at
a rung until :data:`MIN_SEEN` scores are recorded there. The :class:`Ladder` is the run's record
(rebuilt from the stored rows when a study opens, each trained row storing the rung scores it
reached in its seed's ``metrics["rungs"]``; updated as trials complete); at hand-out each trial
gets a :class:`Cut`, a snapshot of the thresholds — asynchronous across packs and Ray workers,
deterministic given the order of completions, and nothing is shared between workers. The worker
turns the cut into report hooks (:func:`cut_hook`) that raise
:class:`~actsearch.evaluators.result.MemberStop` below a threshold; the training loop stops that
member alone (:mod:`actsearch.evaluators.training.loop`).

Only one-seed trials are cut (a trial with several seeds — a rescore, a multi-seed search — gets no
cut in this version), and never a reference.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from actsearch.evaluators.result import MemberStop

Report = Callable[[int, float], None]

# Where a trial may be cut, as fractions of its training steps (each must fall on a checkpoint):
# 1/9 and 1/3 give three fidelities, 1/9, 1/3 and the full steps, a factor ETA apart.
RUNG_FRACTIONS: tuple[Fraction, ...] = (Fraction(1, 9), Fraction(1, 3))
# The reduction factor: at a rung a member goes on when its score is in the top 1/ETA of the scores
# recorded there so far (ASHA's rule; 3 keeps a third at each rung).
ETA = 3
# No cut at a rung until this many scores are recorded there: the first trials of a run all go on,
# so the first thresholds are not drawn from a handful of scores.
MIN_SEEN = 9
RUNGS_KEY = "rungs"  # a seed's metrics: the scores at the rungs it reached, in order


def default_checkpoints(fractions: Sequence[Fraction] = RUNG_FRACTIONS) -> int:
    """The fewest checkpoints every rung falls on (the denominators' least common multiple: 9)."""
    return math.lcm(*(f.denominator for f in fractions)) if fractions else 1


def rung_checkpoints(checkpoints: int, fractions: Sequence[Fraction] = RUNG_FRACTIONS) -> tuple[int, ...] | None:
    """The checkpoint index (1..checkpoints) of each rung, or None when a rung falls between two."""
    points = [f * checkpoints for f in fractions]
    if any(p.denominator != 1 or not 1 <= p < checkpoints for p in points):
        return None
    return tuple(int(p) for p in points)


def shown(fractions: Sequence[Fraction] = RUNG_FRACTIONS) -> str:
    """The rungs as text: ``1/9, 1/3``."""
    return ", ".join(str(f) for f in fractions)


def threshold(scores: Iterable[float], eta: int = ETA, min_seen: int = MIN_SEEN) -> float | None:
    """The cut at a rung from the scores recorded there: the lowest score still in the top 1/``eta``
    (at least one), or None (no cut) while fewer than ``min_seen`` finite scores are recorded."""
    ranked = sorted((float(s) for s in scores if math.isfinite(s)), reverse=True)
    if len(ranked) < max(1, min_seen):
        return None
    return ranked[max(1, len(ranked) // eta) - 1]


@dataclass(frozen=True)
class Rung:
    """One rung of a :class:`Cut`."""

    index: int  # 1, 2 ... (the order of the rungs)
    checkpoint: int  # the checkpoint (1..checkpoints) it falls on
    threshold: float | None  # a member scoring below it stops there; None: no cut yet


@dataclass(frozen=True)
class Cut:
    """The thresholds a one-seed trial is held to, per rung (a snapshot when it was handed out)."""

    rungs: tuple[Rung, ...]

    def at(self, checkpoint: int) -> Rung | None:
        """The rung that falls on ``checkpoint``, if any."""
        return next((r for r in self.rungs if r.checkpoint == checkpoint), None)


class Ladder:
    """A run's rung scores so far (per rung, every score recorded there) and the cut they give."""

    def __init__(self, checkpoints: int, fractions: Sequence[Fraction] = RUNG_FRACTIONS, eta: int = ETA,
                 min_seen: int = MIN_SEEN) -> None:
        points = rung_checkpoints(checkpoints, fractions)
        if points is None:
            raise ValueError(f"the rungs {shown(fractions)} do not all fall on one of {checkpoints} checkpoints")
        self.points, self.eta, self.min_seen = points, eta, min_seen
        self.scores: list[list[float]] = [[] for _ in points]

    def record(self, rungs: Sequence[float]) -> None:
        """A trial's scores at the rungs it reached (the first ``len(rungs)`` rungs)."""
        for scores, score in zip(self.scores, rungs, strict=False):
            if isinstance(score, (int, float)) and math.isfinite(score):
                scores.append(float(score))

    def record_runs(self, runs: Iterable[Mapping[str, Any]]) -> None:
        """A stored row's rung scores (its first seed run that has them)."""
        for run in runs:
            rungs = (run.get("metrics") or {}).get(RUNGS_KEY)
            if isinstance(rungs, list):
                self.record(rungs)
                return

    def cut(self) -> Cut:
        """The thresholds now, per rung."""
        return Cut(tuple(Rung(i + 1, point, threshold(scores, self.eta, self.min_seen))
                         for i, (point, scores) in enumerate(zip(self.points, self.scores, strict=True))))


def cut_hook(cut: Cut, report: Report | None, seen: dict[int, float]) -> Report:
    """A member's report hook under ``cut``: ``report`` (a scheduler's, Ray's) first, then at a rung's
    checkpoint the score is recorded in ``seen`` (rung index -> score) and a score below the rung's
    threshold raises :class:`~actsearch.evaluators.result.MemberStop`."""

    def hook(checkpoint: int, score: float) -> None:
        if report is not None:
            report(checkpoint, score)
        rung = cut.at(int(checkpoint))
        if rung is None:
            return
        seen[rung.index] = float(score)
        if rung.threshold is not None and not float(score) >= rung.threshold:
            raise MemberStop(rung.index, float(score), rung.threshold)

    return hook


def reached(seen: Mapping[int, float]) -> list[float]:
    """The rung scores a hook recorded, in rung order (the rungs reached, from the first)."""
    out: list[float] = []
    for index in range(1, len(seen) + 1):
        if index not in seen:
            break
        out.append(seen[index])
    return out
