"""Machinery shared by the space searchers: dedup, trial ids, pending trials, RNG state, streams.

``SpaceSearcher`` turns a candidate of a ``Space`` into a ``Proposal`` only when its fingerprint
is new and it is not trivial. What it declines is *skipped*, never proposed for training:
trivial candidates (status ``invalid``, reported once per fingerprint) and, for searchers that
walk the space (exhaustive, random), aliases — later candidates whose fingerprint an earlier
proposal already carries. ``pop_skipped()`` hands these records to the driver, which may store
them; candidates a searcher merely regenerates (a mutation or controller sample that repeats a
fingerprint) are rejected silently and resampled.
"""

from __future__ import annotations

import math
import random
from typing import Any

from actsearch.evaluators.result import OK
from actsearch.search.dedup import ALIAS, INVALID, NEW, Dedup
from actsearch.search.searchers.base import Proposal, Searcher


def rng_state(rng: random.Random) -> list[Any]:
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def set_rng_state(rng: random.Random, state: list[Any]) -> None:
    rng.setstate((state[0], tuple(state[1]), state[2]))


def fitness(score: float | None, status: str) -> float | None:
    """The score of a successful trial, None for a failure (non-ok status, None, NaN or inf)."""
    if status != OK or score is None or not math.isfinite(score):
        return None
    return float(score)


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
    """Base for searchers over a ``Space``: subclasses implement ``suggest`` and ``_complete``."""

    def __init__(self, space: Any, *, seed: int = 0) -> None:
        self.space, self.seed = space, seed
        self.rng = random.Random(seed)
        self.dedup = Dedup()
        self.n_proposed = 0
        self.pending: dict[str, dict[str, Any]] = {}  # trial id -> what _complete needs
        self.skipped: list[dict[str, Any]] = []

    def _try(self, cand: Any, *, walk: bool, info: dict[str, Any] | None = None, **extra: Any) -> Proposal | None:
        """A proposal for ``cand`` if its fingerprint is new and valid, else None (recorded if skipped)."""
        text, params = self.space.to_text(cand)
        verdict = self.dedup.check(text, params)
        if verdict.kind == NEW:
            trial_id = f"t{self.n_proposed:06d}"
            self.n_proposed += 1
            self.dedup.claim(verdict.fingerprint, trial_id)
            tokens = self.space.to_tokens(cand)
            self.pending[trial_id] = {"tokens": tokens, **extra}
            return Proposal(trial_id, text, verdict.fingerprint, params, tokens, dict(info or {}))
        first_invalid = verdict.kind == INVALID and verdict.fingerprint not in self.dedup
        if first_invalid:
            self.dedup.claim(verdict.fingerprint, "")
        if first_invalid or walk:
            self.skipped.append(
                {
                    "expression": text,
                    "params": params,
                    "fingerprint": verdict.fingerprint,
                    "status": INVALID if verdict.kind == INVALID else ALIAS,
                    "reason": verdict.reason,
                    "alias_of": verdict.alias_of,
                }
            )
        return None

    def pop_skipped(self) -> list[dict[str, Any]]:
        out, self.skipped = self.skipped, []
        return out

    def on_trial_complete(self, trial_id: str, score: float | None, status: str = "ok") -> None:
        entry = self.pending.pop(trial_id, None)
        if entry is not None:  # unknown or already completed ids are ignored
            self._complete(trial_id, entry, fitness(score, status))

    def _complete(self, trial_id: str, entry: dict[str, Any], fit: float | None) -> None:
        """Hook: a pending trial finished with fitness ``fit`` (None = failed)."""

    def state(self) -> dict[str, Any]:
        return {
            "searcher": self.name,
            "seed": self.seed,
            "rng": rng_state(self.rng),
            "dedup": self.dedup.state(),
            "n_proposed": self.n_proposed,
            "pending": self.pending,
            "skipped": self.skipped,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        set_rng_state(self.rng, state["rng"])
        self.dedup.load_state(state["dedup"])
        self.n_proposed = state["n_proposed"]
        self.pending = {k: dict(v) for k, v in state["pending"].items()}
        self.skipped = list(state["skipped"])
