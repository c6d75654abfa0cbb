"""Deduplication before anything trains: equal fingerprints collapse, trivial candidates are invalid.

``analyse(expression, params)`` parses a candidate once (cached, so replays and repeated seeds
cost nothing) and returns its fingerprint and, when it is trivial (constant, non-finite on the
probe set, zero gradient everywhere), the reason. The search loop
(:mod:`actsearch.search.loop.study`) classifies every proposal with it against the run's rows:
a later candidate with a stored fingerprint is an *alias*, a trivial one is *invalid* — neither is
trained. ``count_distinct`` walks a whole space (``actsearch space --dedup``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=262_144)
def _analyse(expression: str, params: tuple[tuple[str, float], ...]) -> tuple[str, str | None]:
    from actsearch.errors import UserError
    from actsearch.grammar import parse

    try:
        act = parse(expression, **dict(params))
        fingerprint = act.fingerprint
    except UserError as err:  # generated text the grammar refuses (e.g. a user primitive's domain)
        return f"unparsable:{expression}", f"unparsable: {err}"
    return fingerprint, act.trivial()


def analyse(expression: str, params: dict[str, float] | None = None) -> tuple[str, str | None]:
    """``(fingerprint, trivial_reason_or_None)`` of a candidate, cached."""
    return _analyse(expression, tuple(sorted((params or {}).items())))


def distinct(space: Any) -> Iterator[tuple[Any, str, dict[str, float], str]]:
    """``(candidate, expression, params, fingerprint)`` for the first of every valid fingerprint."""
    seen: set[str] = set()
    for cand in space.enumerate():
        text, params = space.to_text(cand)
        fingerprint, reason = analyse(text, params)
        if fingerprint not in seen:
            seen.add(fingerprint)
            if not reason:
                yield cand, text, params, fingerprint


def count_distinct(space: Any) -> dict[str, Any]:
    """Raw, distinct (valid, by fingerprint) and invalid counts of a whole space, with the time."""
    start = time.perf_counter()
    seen: dict[str, bool] = {}
    for cand in space.enumerate():
        text, params = space.to_text(cand)
        fingerprint, reason = analyse(text, params)
        seen.setdefault(fingerprint, reason is None)
    valid = sum(seen.values())
    return {
        "raw": space.raw_size,
        "distinct": valid,
        "invalid": len(seen) - valid,
        "seconds": round(time.perf_counter() - start, 3),
    }
