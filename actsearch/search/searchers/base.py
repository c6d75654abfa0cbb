"""The searcher interface: ask for a proposal, tell it the outcome.

::

    searcher = make_searcher("evolution", space, seed=0)
    searcher.attach(known)            # the loop's view: is this fingerprint already taken?
    p = searcher.ask(7)               # Proposal | WAIT | FINISHED; 7 is the loop's proposal id
    ...
    searcher.tell(7, Outcome(score=0.93, status=Status.OK))

The loop (:class:`actsearch.search.loop.study.Study`) owns everything else: proposal ids, dedup
against the store, alias and trivial records, the pre-screen, the budget. A searcher never sees
the store and keeps no dedup map of its own: it proposes candidates of its space, may consult
``self.known(fingerprint)`` to avoid proposing a fingerprint the run already holds, and is told
exactly once about every proposal: its result (a stored one when the run already held its
fingerprint; a failure, status ``invalid``, when the pre-screen rejected it), or ``Outcome.skipped``
when it was an alias or a trivial candidate, which the searcher should simply forget. A searcher that walks its space (exhaustive, random) simply
proposes every raw candidate and lets the loop record the aliases.

Contract (checked for every registered searcher by ``tests/search/test_searcher_contract.py``,
through the real loop): deterministic for a seed; covers the deduplicated space and then returns
``FINISHED`` (and keeps returning it); treats a NaN/inf score or a status other than ``Status.OK`` as a failure,
except ``Status.STOPPED`` (cut at a rung by successive halving: its score is a low-fidelity score,
below the cut, which :attr:`Outcome.fitness` gives as a score);
``state()`` → JSON → ``load_state()`` mid-run gives the same next proposals; ``WAIT`` only while
a proposal is untold.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from actsearch.evaluators.result import OK, Status


class _Sentinel:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


WAIT = _Sentinel("WAIT")  # nothing to propose until an outstanding proposal is told
FINISHED = _Sentinel("FINISHED")  # the searcher will never propose again


@dataclass(frozen=True)
class Prediction:
    """A score forecast made before training (the surrogate's forest: mean and spread of its trees)."""

    mean: float
    spread: float


@dataclass
class Proposal:
    """One candidate proposed by a searcher."""

    expression: str  # text in the expression language; actsearch.parse(expression) rebuilds it
    params: dict[str, float] = field(default_factory=dict)  # initial values of learnable constants
    tokens: list[int] | None = None  # the space's token sequence, when the searcher uses one
    prediction: Prediction | None = None  # forecast score, stored with the trial
    origin: str | None = None  # how the searcher came to it ("random", "mutation", "model" ...)
    parent: int | None = None  # the proposal id it was derived from (a mutation's parent)

    def activation(self):  # noqa: ANN201 - returns actsearch.Activation (import kept lazy)
        from actsearch.grammar import parse

        return parse(self.expression, **self.params)


@dataclass(frozen=True)
class Outcome:
    """What the loop tells a searcher about one of its proposals."""

    score: float | None
    status: Status = OK
    skipped: bool = False  # True: not a candidate of its own (an alias or a trivial one): forget it

    @property
    def fitness(self) -> float | None:
        """The score of a successful trial — or of one a scheduler stopped at a rung (``stopped``: its
        rung score, a low-fidelity score below the cut) — None for a failure (another status, None,
        NaN or inf)."""
        if self.status not in (OK, Status.STOPPED) or self.score is None or not math.isfinite(self.score):
            return None
        return float(self.score)


def with_failures(fits: Sequence[float | None]) -> list[float]:
    """Fitnesses for a model to fit, a failure (None) scored as the worst of the run so far: 0 for
    scores that are never negative (accuracies), the lowest score seen where they can be (a panel's
    scores in ReLU seed spreads, where 0 is ReLU's level and a weak function scores −30)."""
    floor = min([0.0, *(f for f in fits if f is not None)])
    return [floor if f is None else f for f in fits]


def _nothing_known(fingerprint: str) -> bool:
    return False


class Searcher(ABC):
    """Base class: subclasses implement ``ask``, ``tell``, ``state``/``load_state``."""

    name: str = "base"
    # How many proposals it hands out before it must be told their outcomes (``WAIT`` after that);
    # None: no limit. Executors that pack trials split a batch this size across their workers.
    batch_size: int | None = None
    # Seconds this process spent setting up before (or between) proposals, e.g. a surrogate's features
    # of its pool, and what that set-up was (JSON): the run stores both (metadata ``timings``).
    setup_s: float = 0.0
    setup: dict[str, Any] = {}  # noqa: RUF012 - replaced, never mutated, by a searcher that sets up

    def __init__(self) -> None:
        self.known: Callable[[str], bool] = _nothing_known

    def attach(self, known: Callable[[str], bool]) -> None:
        """Give the searcher the loop's view of the fingerprints the run already holds."""
        self.known = known

    @abstractmethod
    def ask(self, proposal_id: int) -> Proposal | _Sentinel:
        """The next candidate (to be known as ``proposal_id``), ``WAIT``, or ``FINISHED``."""

    @abstractmethod
    def tell(self, proposal_id: int, outcome: Outcome) -> None:
        """The outcome of a proposal (unknown or already told ids are ignored)."""

    @abstractmethod
    def state(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot (a copy, not live references) of everything needed to continue."""

    @abstractmethod
    def load_state(self, state: dict[str, Any]) -> None:
        """Restore a snapshot made by ``state()`` on a searcher built with the same arguments."""
