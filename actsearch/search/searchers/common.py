"""Machinery shared by the space searchers: outstanding proposals, RNG state, index streams.

``SpaceSearcher`` turns a candidate of a ``Space`` into a ``Proposal`` and remembers what it needs
when the loop tells the outcome. ``_fresh(cand)`` says whether a candidate is worth proposing to a
searcher that does not walk the space (not trivial, fingerprint not held by the run, not already
in this batch); walking searchers propose every raw candidate and let the loop record aliases.
"""

from __future__ import annotations

import random
from typing import Any

from actsearch.search.searchers.base import Outcome, Proposal, Searcher
from actsearch.search.space.dedup import analyse


def rng_state(rng: random.Random) -> list[Any]:
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def set_rng_state(rng: random.Random, state: list[Any]) -> None:
    rng.setstate((state[0], tuple(state[1]), state[2]))


class IndexStream:
    """Uniform draws without replacement from range(n): a lazy Fisher–Yates shuffle (memory ∝ draws)."""

    def __init__(self, n: int) -> None:
        self.n, self.pos, self.swaps = n, 0, {}

    @property
    def done(self) -> bool:
        return self.pos >= self.n

    def next(self, rng: random.Random) -> int:
        j = rng.randrange(self.pos, self.n)
        value = self.swaps.get(j, j)
        self.swaps[j] = self.swaps.pop(self.pos, self.pos)
        if j == self.pos:
            self.swaps.pop(j, None)
        self.pos += 1
        return value

    def state(self) -> dict[str, Any]:
        return {"pos": self.pos, "swaps": [[k, v] for k, v in self.swaps.items()]}

    def load_state(self, state: dict[str, Any]) -> None:
        self.pos, self.swaps = state["pos"], {k: v for k, v in state["swaps"]}


class SpaceSearcher(Searcher):
    """Base for searchers over a ``Space``: subclasses implement ``ask`` and ``_complete``."""

    def __init__(self, space: Any, *, seed: int = 0) -> None:
        super().__init__()
        self.space, self.seed = space, seed
        self.rng = random.Random(seed)
        self.pending: dict[int, dict[str, Any]] = {}  # proposal id -> what _complete needs

    def _fresh(self, cand: Any, taken: set[str] | frozenset = frozenset()) -> str | None:
        """The fingerprint of ``cand`` if it is worth proposing (valid, not held, not in ``taken``)."""
        fp, trivial = analyse(*self.space.to_text(cand))
        return None if trivial or fp in taken or self.known(fp) else fp

    def _propose(self, proposal_id: int, cand: Any, *, origin: str | None = None, prediction: Any = None,
                 parent: int | None = None, **extra: Any) -> Proposal:
        text, params = self.space.to_text(cand)
        tokens = self.space.to_tokens(cand)
        self.pending[proposal_id] = {"tokens": tokens, **extra}
        return Proposal(text, params, tokens, prediction=prediction, origin=origin, parent=parent)

    def tell(self, proposal_id: int, outcome: Outcome) -> None:
        entry = self.pending.pop(proposal_id, None)
        if entry is not None and not outcome.skipped:  # unknown or already told ids are ignored
            self._complete(proposal_id, entry, outcome.fitness)

    def _complete(self, proposal_id: int, entry: dict[str, Any], fit: float | None) -> None:
        """Hook: an outstanding proposal finished with fitness ``fit`` (None = failed)."""

    def state(self) -> dict[str, Any]:
        return {"searcher": self.name, "seed": self.seed, "rng": rng_state(self.rng),
                "pending": [[k, dict(v)] for k, v in self.pending.items()]}

    def load_state(self, state: dict[str, Any]) -> None:
        set_rng_state(self.rng, state["rng"])
        self.pending = {int(k): dict(v) for k, v in state["pending"]}
