"""The numeric fingerprint: one short hash per mathematical function, computed in about 1 ms.

The tree (after :func:`~actsearch.grammar.nodes.stable` rewrites, which change no value but
avoid cancellation in ``log(1 + exp(u))``) is evaluated in float64 on a fixed probe set of
``x`` values crossed with a grid of values for every learnable constant. Each value is rounded
to 7 significant digits (|v| < 1e-10 counts as 0; NaN, +inf and -inf are tokens of their own)
and the rows — one per parameter setting — are de-duplicated and sorted before hashing:

- the parameter grid is the full product ``PARAM_VALUES ** k``, so renaming or reordering the
  learnable constants permutes rows only, and ``x*sigmoid(beta*x)`` ≡ ``x*sigmoid(gamma*x)``;
- a constant that cancels (``x + beta - beta``) gives identical rows, so it fingerprints as ``x``;
- probe points avoid round numbers (except 0 itself), so kinks and ties are rarely hit exactly.

Equal functions agree to ~1e-15, far inside the rounding unit, so they share a fingerprint
except in the rare case that a value straddles a rounding boundary (about 1e-8 per value);
different functions differ somewhere on ~70 points × the grid by far more than 1e-7.
Initial parameter values are not part of the fingerprint: it names the family of functions.
"""

from __future__ import annotations

import hashlib
import itertools

import numpy as np

from actsearch.grammar.nodes import Node, evaluate, param_names, stable

PROBE = np.concatenate([
    np.linspace(-6.0, 6.0, 49) + 0.0137,
    [0.0, -0.0291, 0.0613, -0.1873, 0.2311, -0.4271, 0.5573, -9.31, 9.47, -14.71, 14.23, -23.9, 25.3],
])  # fmt: skip
PARAM_VALUES = (0.6131, 1.3729, -0.8317)
GRID_MAX_PARAMS = 5  # beyond this, a fixed set of random settings in order of first appearance
_RANDOM_SETTINGS = 64
DIGITS = 7
ZERO = 1e-10
VERSION = b"fp1"


def settings(k: int) -> np.ndarray:
    """Parameter settings, shape (S, k): the full grid for k ≤ GRID_MAX_PARAMS."""
    if k == 0:
        return np.zeros((1, 0))
    if k <= GRID_MAX_PARAMS:
        return np.array(list(itertools.product(PARAM_VALUES, repeat=k)))
    rng = np.random.default_rng(20171016)
    return rng.choice(PARAM_VALUES, size=(_RANDOM_SETTINGS, k)) * rng.uniform(0.9, 1.1, (_RANDOM_SETTINGS, k))


def probe_values(tree: Node) -> np.ndarray:
    """Values on the probe set, shape (settings, len(PROBE)), float64."""
    names = param_names(tree)
    grid = settings(len(names))
    params = {n: grid[:, i : i + 1] for i, n in enumerate(names)}
    x = PROBE[None, :]
    return np.asarray(evaluate(stable(tree), x, params), dtype=np.float64).reshape(len(grid), len(PROBE))


def quantize(values: np.ndarray) -> np.ndarray:
    """Round to DIGITS significant digits; int64 codes, one per value (NaN/±inf as tokens)."""
    v = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(v)
    mag = np.abs(np.where(finite, v, 1.0))
    zero = mag < ZERO
    exp = np.floor(np.log10(np.where(zero, 1.0, mag)))
    with np.errstate(all="ignore"):
        mant = np.round(np.where(finite, v, 0.0) / 10.0**exp * 10.0 ** (DIGITS - 1))
    carry = np.abs(mant) >= 10.0**DIGITS  # 9.9999999 rounds up to 10.000000: renormalise
    mant = np.where(carry, np.round(mant / 10.0), mant)
    exp = exp + carry
    mant = np.where(zero, 0.0, mant)
    exp = np.where(zero, 0.0, exp)
    mant = np.where(np.isnan(v), 3e9, np.where(np.isposinf(v), 4e9, np.where(np.isneginf(v), -4e9, mant)))
    exp = np.where(finite, exp, 0.0)
    return mant.astype(np.int64) * 2048 + (exp.astype(np.int64) + 1024)


def fingerprint(tree: Node) -> str:
    """16 hex digits naming the function the tree computes (see the module docstring)."""
    codes = np.ascontiguousarray(quantize(probe_values(tree)))
    rows = sorted({row.tobytes() for row in codes})  # de-duplicated, order-free
    h = hashlib.blake2b(VERSION, digest_size=8)
    h.update(len(rows).to_bytes(8, "little"))
    h.update(b"".join(rows))
    return h.hexdigest()
