"""The searcher interface: one small protocol every search strategy implements.

Shaped like Ray Tune's ``Searcher`` (and Optuna's samplers) so that the Ray Tune adapter can wrap
any of them, and the plain in-process driver can run them for tests and replays::

    searcher = make_searcher("evolution", space, seed=0)
    while True:
        p = searcher.suggest()
        if p is FINISHED: break
        if p is WAIT: ...wait for a running trial to complete...; continue
        result = evaluate(p.activation(), task)           # anything that yields a score
        searcher.on_trial_complete(p.trial_id, score=result.score, status=result.status)

Contract (checked for every registered searcher by ``tests/search/test_searcher_contract.py``):
deterministic for a seed; never proposes the same fingerprint twice; returns ``FINISHED`` once
the space is exhausted; treats a NaN/inf score or a non-"ok" status as a failure without
crashing; ``state()`` → ``load_state()`` mid-run gives the same next suggestions.

Candidates a searcher declines are never proposed for training; ``pop_skipped()`` hands the
driver records of them (``expression``, ``params``, ``fingerprint``, ``status`` "alias" or
"invalid", ``reason``, ``alias_of``: the first trial id with that fingerprint) so that the run
store can keep them. The space searchers report every trivial candidate (once per fingerprint)
and, when they walk the space (exhaustive, random), every alias they pass.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any


class _Sentinel:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


WAIT = _Sentinel("WAIT")  # nothing to propose until a running trial completes
FINISHED = _Sentinel("FINISHED")  # the searcher will never propose again


@dataclass
class Proposal:
    """One candidate proposed by a searcher."""

    trial_id: str  # unique within the run, assigned by the searcher ("t000042")
    expression: str  # text in the expression language; actsearch.parse(expression) rebuilds it
    fingerprint: str  # the Activation's fingerprint (never repeated by one searcher)
    params: dict[str, float] = field(default_factory=dict)  # initial values of learnable constants
    tokens: list[int] | None = None  # the space's token sequence, when the searcher uses one
    info: dict[str, Any] = field(default_factory=dict)  # searcher-specific (e.g. "aliases": [...])

    def activation(self):  # noqa: ANN201 - returns actsearch.Activation (import kept lazy)
        from actsearch.grammar import parse

        return parse(self.expression, **self.params)


class Searcher(ABC):
    """Base class: subclasses implement ``suggest``, ``on_trial_complete``, ``state``/``load_state``."""

    name: str = "base"

    @abstractmethod
    def suggest(self) -> Proposal | _Sentinel:
        """The next candidate to evaluate, ``WAIT``, or ``FINISHED``."""

    @abstractmethod
    def on_trial_complete(self, trial_id: str, score: float | None, status: str = "ok") -> None:
        """Feed back the result of a proposal (score None or non-finite, or status != ok: failure)."""

    @abstractmethod
    def state(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot of everything needed to continue."""

    @abstractmethod
    def load_state(self, state: dict[str, Any]) -> None:
        """Restore a snapshot made by ``state()`` on a searcher built with the same arguments."""

    def pop_skipped(self) -> list[dict[str, Any]]:
        """Records of the candidates declined since the last call (see the module docstring)."""
        return []

    # File form, as Ray Tune's Searcher.save/restore expect.
    def save(self, path: str) -> None:
        import json

        with open(path, "w") as fh:
            json.dump(self.state(), fh)

    def restore(self, path: str) -> None:
        import json

        with open(path) as fh:
            self.load_state(json.load(fh))
