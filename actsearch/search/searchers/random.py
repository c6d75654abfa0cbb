"""Random search: uniform samples without replacement, the baseline every searcher must beat."""

from __future__ import annotations

from typing import Any

from actsearch.search.searchers.base import FINISHED, Proposal, _Sentinel
from actsearch.search.searchers.common import IndexStream, SpaceSearcher


class RandomSearch(SpaceSearcher):
    """Draws raw candidates uniformly without replacement; finishes when every one was drawn."""

    name = "random"

    def __init__(self, space: Any, *, seed: int = 0) -> None:
        super().__init__(space, seed=seed)
        self.stream = IndexStream(space.raw_size)

    def ask(self, proposal_id: int) -> Proposal | _Sentinel:
        if self.stream.done:
            return FINISHED
        return self._propose(proposal_id, self.space.at(self.stream.next(self.rng)), origin="random")

    def state(self) -> dict[str, Any]:
        return {**super().state(), "stream": self.stream.state()}

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.stream.load_state(state["stream"])
