"""Exhaustive search: the space in its fixed enumeration order (for small spaces); the loop keeps
the first candidate of every fingerprint and records the others as aliases."""

from __future__ import annotations

from typing import Any

from actsearch.search.searchers.base import FINISHED, Proposal, _Sentinel
from actsearch.search.searchers.common import SpaceSearcher


class Exhaustive(SpaceSearcher):
    """Walks ``space.at(0), space.at(1) …``, proposing every raw candidate once."""

    name = "exhaustive"

    def __init__(self, space: Any, *, seed: int = 0) -> None:
        super().__init__(space, seed=seed)
        self.position = 0

    def ask(self, proposal_id: int) -> Proposal | _Sentinel:
        if self.position >= self.space.raw_size:
            return FINISHED
        self.position += 1
        return self._propose(proposal_id, self.space.at(self.position - 1), origin="enumeration")

    def state(self) -> dict[str, Any]:
        return {**super().state(), "position": self.position}

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.position = state["position"]
