"""Shape distance between activation functions, as a network sees them.

A child network's linear layers absorb what an activation's shape does not decide: an affine map
of its output (the next layer's weights and bias) and, with symmetric initialisation, a sign flip
of its input or output. So two functions are *alike* when they agree after

- standardising f over z ~ N(0, 1) (subtract the mean, divide by the standard deviation), and
- taking the closest of f(x), −f(x), f(−x), −f(−x) (the point reflections the rediscover
  leaderboard shows scoring alike: x·σ(x), x·σ(−x), −x·σ(x)).

``distance`` is the N(0, 1)-weighted mean squared difference of the standardised shapes: 0 for
the same shape, 2 for uncorrelated shapes, at most 4. Functions with no finite shape (non-finite
or constant on [−4, 4]) are at distance 4 from everything. ``signature`` costs ~0.1 ms.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

Z = np.linspace(-4.0, 4.0, 41)  # symmetric, so reversing the vector reflects x -> -x
_W = np.exp(-(Z**2) / 2)
_W = _W / _W.sum()
FAR = 4.0


def signature(act: Any) -> np.ndarray | None:
    """The standardised shape of ``act`` (an Activation, initial parameter values) on ``Z``, or None."""
    with np.errstate(all="ignore"):
        values = np.broadcast_to(np.asarray(act(Z), dtype=np.float64), Z.shape)
    if not np.all(np.isfinite(values)):
        return None
    centred = values - float(_W @ values)
    std = math.sqrt(float(_W @ (centred * centred)))
    if not math.isfinite(std) or std < 1e-9:
        return None
    return centred / std


def distance(a: np.ndarray | None, b: np.ndarray | None) -> float:
    """Shape distance between two signatures, the minimum over sign and reflection; in [0, 4]."""
    if a is None or b is None:
        return FAR
    best = FAR
    for other in (b, b[::-1]):
        for sign in (1.0, -1.0):
            diff = a - sign * other
            best = min(best, float(_W @ (diff * diff)))
    return best


@functools.lru_cache(maxsize=65536)
def _cached(expression: str, params: tuple[tuple[str, float], ...]) -> np.ndarray | None:
    from actsearch.grammar import parse

    return signature(parse(expression, **dict(params)))


def signature_of(expression: str, params: dict[str, float] | None = None) -> np.ndarray | None:
    """``signature`` of an expression text (cached; the text must parse)."""
    return _cached(expression, tuple(sorted((params or {}).items())))
