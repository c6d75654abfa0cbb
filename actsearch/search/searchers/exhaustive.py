"""Exhaustive search: the deduplicated space in its fixed enumeration order (for small spaces)."""

from __future__ import annotations

from typing import Any

from actsearch.search.searchers.base import FINISHED, Proposal, _Sentinel
from actsearch.search.searchers.common import SpaceSearcher


class Exhaustive(SpaceSearcher):
    """Walks ``space.at(0), space.at(1) …``, proposing the first candidate of every fingerprint."""

    name = "exhaustive"

    def __init__(self, space: Any, *, seed: int = 0) -> None:
        super().__init__(space, seed=seed)
        self.position = 0

    def suggest(self) -> Proposal | _Sentinel:
        while self.position < self.space.raw_size:
            cand = self.space.at(self.position)
            self.position += 1
            proposal = self._try(cand, walk=True, info={"index": self.position - 1})
            if proposal is not None:
                return proposal
        return FINISHED

    def state(self) -> dict[str, Any]:
        return {**super().state(), "position": self.position}

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.position = state["position"]
