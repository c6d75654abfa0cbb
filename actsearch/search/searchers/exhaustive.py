"""Exhaustive search: the space in its fixed enumeration order (for small spaces); the loop keeps
the first candidate of every fingerprint and records the others as aliases.

``order="shuffled"`` walks the same candidates in a random order drawn from the searcher's seed
(a permutation of the raw indices, up to ``MAX_SHUFFLED`` of them), so a run stopped early has
scored a uniform sample of the space — what a long score table made over several sittings wants.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from actsearch.search.searchers.base import FINISHED, Proposal, _Sentinel
from actsearch.search.searchers.common import SpaceSearcher


class Exhaustive(SpaceSearcher):
    """Walks ``space.at(0), space.at(1) …``, proposing every raw candidate once."""

    name = "exhaustive"
    ORDERS = ("enumeration", "shuffled")
    MAX_SHUFFLED = 10_000_000  # raw candidates a shuffled walk holds a permutation of

    def __init__(self, space: Any, *, seed: int = 0, order: str = "enumeration") -> None:
        super().__init__(space, seed=seed)
        if order not in self.ORDERS:
            raise ValueError(f"order must be one of {', '.join(self.ORDERS)}, got {order!r}")
        if order == "shuffled" and space.raw_size > self.MAX_SHUFFLED:
            raise ValueError(f"a shuffled walk holds at most {self.MAX_SHUFFLED:,} raw candidates; this space has "
                             f"{space.raw_size:,}")
        self.order = order
        self._perm = (np.random.default_rng(seed).permutation(space.raw_size) if order == "shuffled" else None)
        self.position = 0

    def ask(self, proposal_id: int) -> Proposal | _Sentinel:
        if self.position >= self.space.raw_size:
            return FINISHED
        index = self.position if self._perm is None else int(self._perm[self.position])
        self.position += 1
        return self._propose(proposal_id, self.space.at(index), origin=self.order)

    def state(self) -> dict[str, Any]:
        return {**super().state(), "position": self.position}

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.position = state["position"]
