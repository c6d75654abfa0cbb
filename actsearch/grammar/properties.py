"""Shape properties of an activation and the generalised He initialisation gain.

Everything is numeric, at the initial parameter values, in float64: values from the tree's
numpy evaluator, derivatives from torch autograd on the compiled module. The checks are
grid-based and stated with their tolerances below; they describe the function on the reals
where it is finite (a region where it is NaN is ignored).

``linear`` flags affine functions (a·x + b for every value of the constants): a network made
of them is one linear map, whatever its depth.

``gain`` generalises He et al. (2015, "Delving deep into rectifiers"): the factor that keeps
activations' second moment at 1 for unit-variance pre-activations,
``gain = 1 / sqrt(E[f(z)^2])`` for z ~ N(0, 1), by Gauss–Hermite quadrature (relu → √2).
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from actsearch.grammar.fingerprint import PROBE, probe_values

if TYPE_CHECKING:
    from actsearch.grammar.activation import Activation

GRID = np.linspace(-8.0, 8.0, 16001)  # h = 1e-3
TAILS = np.array([1e1, 1e2, 1e3, 1e4])
HERMITE_NODES = 128
SLOPE_TOL = 1e-9  # f' ≥ -SLOPE_TOL everywhere: non-decreasing
SATURATION_TOL = 1e-6  # |f'| below this far out (x = ±50, ±100): saturates
KINK_TOL = 1e-4  # a jump in f' that survives bisection to width 1e-12: not C¹
AFFINE_TOL = 1e-9  # largest residual of the a·x + b fit, relative to 1 + max |f|: affine


def _quiet(fn: Any) -> Any:
    """``fn`` with numpy's floating-point warnings off: overflow and inf - inf are expected on the
    grids above (``x^1e308``) and are handled by the finiteness checks, not printed."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)

    return wrapper


def _derivative(act: Activation, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values and derivatives at ``x`` by autograd in float64."""
    import torch

    from actsearch.grammar.slope import value_and_slope

    y, g = value_and_slope(act.module().double(), torch.tensor(x, dtype=torch.float64))
    return y.numpy(), g.numpy()


@functools.lru_cache(maxsize=4)
def _hermite(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Hermite (probabilists') nodes and weights; computed once per size."""
    return np.polynomial.hermite_e.hermegauss(nodes)


@_quiet
def gain(act: Activation, nodes: int = HERMITE_NODES) -> float | None:
    """1/sqrt(E[f(z)^2]), z ~ N(0, 1), by Gauss–Hermite quadrature (None if not finite)."""
    z, w = _hermite(nodes)
    second = float(np.sum(w * act(z) ** 2) / math.sqrt(2 * math.pi))
    if not math.isfinite(second) or second <= 0:
        return None
    return 1.0 / math.sqrt(second)


@_quiet
def trivial(act: Activation) -> str | None:
    """ "non-finite", "constant", "zero gradient" or None (see ``Activation.trivial``)."""
    values = act(PROBE)
    finite = np.isfinite(values)
    if not finite.any():
        return "non-finite"
    v = values[finite]
    if np.ptp(v) <= 1e-12 * max(1.0, float(np.max(np.abs(v)))):
        return "constant"
    _, grad = _derivative(act, PROBE)
    g = grad[finite & np.isfinite(grad)]
    if g.size == 0 or np.all(np.abs(g) <= 1e-12):
        return "zero gradient"
    return None


def _bounded(act: Activation, side: float, core: np.ndarray) -> bool:
    """Bounded on one side (+1 above, -1 below): the far tails do not keep moving past the core."""
    finite = core[np.isfinite(core)]
    if finite.size == 0:
        return False
    worst = side * np.max(side * finite)
    for sign in (-1.0, 1.0):
        tail = act(sign * TAILS)
        if np.any(np.isinf(tail) & (np.sign(tail) == side)):
            return False
        t = tail[np.isfinite(tail)]
        if (
            t.size >= 2
            and np.all(side * np.diff(t) > 1e-9 * (1 + np.abs(t[:-1])))
            and side * (t[-1] - worst) > 0
        ):
            return False
    return True


def _smooth(act: Activation, values: np.ndarray, grad: np.ndarray) -> bool:
    """C¹ on the finite region: no infinite slope and no jump in f' that survives bisection."""
    ok = np.isfinite(values)
    inside = np.flatnonzero(ok)
    if inside.size == 0 or not ok[inside[0] : inside[-1] + 1].all():  # nowhere, or with holes
        return False
    if np.any(ok & ~np.isfinite(grad)):
        return False
    both = ok[:-1] & ok[1:]
    steps = np.abs(np.diff(values))[both]
    slopes = np.maximum(np.abs(grad[:-1]), np.abs(grad[1:]))[both]
    if np.any((steps > 1e-2) & (steps > 5 * (GRID[1] - GRID[0]) * slopes)):  # f itself jumps
        return False
    jumps = np.flatnonzero(both & (np.abs(np.diff(grad)) > 1e-2))
    if jumps.size == 0:
        return True
    lo, hi = GRID[jumps].copy(), GRID[jumps + 1].copy()
    glo, ghi = grad[jumps].copy(), grad[jumps + 1].copy()
    for _ in range(34):
        mid = (lo + hi) / 2
        _, gm = _derivative(act, mid)
        left = np.abs(gm - glo) >= np.abs(ghi - gm)
        hi, ghi = np.where(left, mid, hi), np.where(left, gm, ghi)
        lo, glo = np.where(left, lo, mid), np.where(left, glo, gm)
    return not np.any(np.abs(ghi - glo) > KINK_TOL)


def _interior_min(act: Activation, values: np.ndarray) -> tuple[float | None, float | None]:
    """The lowest value strictly inside the grid, below both ends (Swish's bump), else None."""
    ok = np.isfinite(values)
    if not ok.any():
        return None, None
    v = np.where(ok, values, np.inf)
    i = int(np.argmin(v))
    margin = 1e-9 * (1 + abs(v[i]))
    if i in (0, len(v) - 1) or not (ok[0] and ok[-1]) or not (v[i] < v[0] - margin and v[i] < v[-1] - margin):
        return None, None
    from scipy.optimize import minimize_scalar

    res = minimize_scalar(lambda t: float(act(np.array([t]))[0]), bounds=(GRID[i - 1], GRID[i + 1]), method="bounded",
                          options={"xatol": 1e-10})  # fmt: skip
    if not (math.isfinite(res.fun) and res.fun <= v[i]):
        return float(v[i]), float(GRID[i])
    x = float(res.x)
    return float(min(res.fun, v[i])), x


def _symmetry(act: Activation, parity: float) -> bool:
    x = PROBE[PROBE > 0]
    a, b = act(x), parity * act(-x)
    same_nan = np.array_equal(np.isnan(a), np.isnan(b))
    fin = np.isfinite(a) & np.isfinite(b)
    if not fin.any():
        return False
    return bool(
        same_nan
        and np.allclose(a[fin], b[fin], rtol=1e-9, atol=1e-12)
        and np.all((a == b)[~fin & ~np.isnan(a)])
    )


@_quiet
def linear(act: Activation) -> bool:
    """Affine in x (a·x + b, constants included) for *every* value of its learnable constants:
    on the fingerprint's probe set × parameter grid, each row is fitted exactly by a line.
    ``x + beta*x``, ``x + x`` and ``2*x + 1`` are; ``beta*x + (1 - beta)*x^2`` (the identity
    only at beta = 1) is not. A network of such units collapses to one linear map."""
    values = probe_values(act.tree)
    if not np.all(np.isfinite(values)):
        return False
    design = np.stack([PROBE, np.ones_like(PROBE)], axis=1)
    coef, *_ = np.linalg.lstsq(design, values.T, rcond=None)
    residual = np.abs(design @ coef - values.T).max(axis=0)
    return bool(np.all(residual <= AFFINE_TOL * (1.0 + np.abs(values).max(axis=1))))


def _float(v: Any) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


@_quiet
def properties(act: Activation) -> dict[str, Any]:
    """The property dict (keys: monotonic, bounded_below, bounded_above, smooth, f0, slope0,
    min_value, argmin, saturates_left, saturates_right, odd, even, linear, gain)."""
    values, grad = _derivative(act, GRID)
    ok = np.isfinite(values) & np.isfinite(grad)
    g = grad[ok]
    far_values, far_grad = _derivative(act, np.array([-100.0, -50.0, 50.0, 100.0]))
    h = 1e-6
    f_h = act(np.array([-h, 0.0, h]))
    min_value, argmin = _interior_min(act, values)
    return {
        "monotonic": bool(g.size > 0 and (np.all(g >= -SLOPE_TOL) or np.all(g <= SLOPE_TOL))),
        "bounded_below": _bounded(act, -1.0, values),
        "bounded_above": _bounded(act, 1.0, values),
        "smooth": _smooth(act, values, grad),
        "f0": _float(f_h[1]),
        "slope0": _float((f_h[2] - f_h[0]) / (2 * h)) if np.all(np.isfinite(f_h)) else None,
        "min_value": min_value,
        "argmin": argmin,
        "saturates_left": bool(
            np.all(np.isfinite(far_values[:2])) and np.all(np.abs(far_grad[:2]) < SATURATION_TOL)
        ),
        "saturates_right": bool(
            np.all(np.isfinite(far_values[2:])) and np.all(np.abs(far_grad[2:]) < SATURATION_TOL)
        ),
        "odd": _symmetry(act, -1.0),
        "even": _symmetry(act, 1.0),
        "linear": linear(act),
        "gain": gain(act),
    }
