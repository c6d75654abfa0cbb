"""Tree → torch closures that compute a function together with its derivatives (forward mode).

The batched trainer differentiates its networks by hand and needs, at each activation, f′(x) and
∂f/∂c for every learnable constant c, elementwise. :func:`build_dual` compiles the prepared tree
(the one :mod:`actsearch.grammar.compile` builds its closures from, so the values are the same
torch operations in the same order) into a closure returning ``(value, tangents)``: the tangents
are a dict from a variable (:data:`X` for x, or a constant's name) to the derivative by it, with
a missing variable meaning zero and a Python float standing for a constant tangent, so nothing is
materialised that is known without computing it (d/dx of ``beta * x`` is ``beta``).

Each rule is the derivative torch's autograd applies for the same operation (a unary function's
is the ``slope`` of its record in :mod:`actsearch.grammar.functions`): ``abs``: sign, so 0 at 0;
``relu``: 1 where the output is positive; ``maximum``/``minimum``: half to each side on a tie;
``clamp``: 1 on the boundary; ``pow``: 0 where the exponent is 0, and by the exponent 0 where the
base is 0 and the exponent non-negative; ``sinc``: 0 at 0. So a hand-differentiated network
trains as its autograd twin does, up to the reassociation of products. One difference is left:
where an inner selection gives a zero tangent and an outer slope is infinite at the same point
(``log(min(x, beta))`` at x = 0, by beta), forward mode multiplies 0 by ∞ (NaN) where autograd's
mask comes last (0). Every function of the paper's one-unit space agrees with autograd exactly,
singular points included (``tests/grammar/test_grammar_dual.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from actsearch.grammar.compile import UNARY, fold, native_name, prepare
from actsearch.grammar.functions import FUNCTIONS
from actsearch.grammar.nodes import Node, evaluate, stable

X = None  # the key of the derivative by x in a tangents dict
Tangents = dict[Any, Any]  # variable -> tensor or float; a missing variable's tangent is 0
DualFn = Callable[[torch.Tensor, dict], tuple[Any, Tangents]]


def _times(t: Any, k: Any) -> Any:
    """t·k, skipping the multiplication where either is the number 1."""
    if isinstance(t, float) and t == 1.0:
        return k
    if isinstance(k, float) and k == 1.0:
        return t
    return t * k


def _scale(d: Tangents, k: Any) -> Tangents:
    return {v: _times(t, k) for v, t in d.items()}


def _sum(a: Tangents, b: Tangents, sign: float = 1.0) -> Tangents:
    out = dict(a)
    for v, t in b.items():
        t = t if sign > 0 else -t
        out[v] = out[v] + t if v in out else t
    return out


def _slope(op: str, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """df/du of the unary ``op`` at u, where v = f(u): the rule of its record in
    :mod:`actsearch.grammar.functions` (autograd's formula, or torch's backward kernel, for the
    same callable)."""
    slope = FUNCTIONS[op].slope
    if slope is None:
        raise ValueError(f"no derivative rule for {op!r}")
    return slope(u, v)


def with_derivatives(module: Any) -> Callable[[torch.Tensor, dict], tuple[torch.Tensor, Tangents]]:
    """For a compiled :class:`~actsearch.grammar.compile.ActivationModule`: ``f(x, params) ->
    (f(x) with x's shape, tangents)``, with constants of any broadcasting shape as in its
    ``apply``."""
    dual = build_dual(module.tree, module.fast)

    def apply(x: torch.Tensor, params: dict) -> tuple[torch.Tensor, Tangents]:
        value, tangents = dual(x, params)
        return _full(value, x).expand(x.shape), tangents

    return apply


def build_dual(tree: Node, fast: bool = True) -> DualFn:
    """The closure ``f(x, params) -> (value, tangents)`` for a whole tree, built like
    :func:`actsearch.grammar.compile.build` builds the plain one (torch's own kernel for a
    parameter-free tree that computes one, else the prepared tree)."""
    if fast:
        name = native_name(tree)
        if name is not None:
            return _dual((name, ("x",)))
        return _dual(prepare(tree))
    return _dual(stable(fold(tree)))


def _full(value: Any, x: torch.Tensor) -> torch.Tensor:
    return value if isinstance(value, torch.Tensor) else torch.full_like(x, value)


def _dual(node: Node) -> DualFn:
    op = node[0]
    if op == "x":
        return lambda x, p: (x, {X: 1.0})
    if op == "num":
        value = node[1]
        return lambda x, p: (value, {})
    if op == "param":
        name = node[1]
        return lambda x, p: (p[name], {name: 1.0})
    if op in UNARY:
        f, g = UNARY[op], _dual(node[1])

        def unary(x: torch.Tensor, p: dict) -> tuple[Any, Tangents]:
            u, du = g(x, p)
            u = _full(u, x)
            v = f(u)
            return v, (_scale(du, _slope(op, u, v)) if du else {})

        return unary
    if op in ("max", "min"):
        return _minmax(op, node[1], node[2])
    if node[1][0] == "num" and node[2][0] == "num":  # left unfolded: not finite (1/0, 0/0, 2^1e4)
        with np.errstate(all="ignore"):
            value = float(evaluate(node, np.zeros(()), {}))
        return lambda x, p: (value, {})
    g, h = _dual(node[1]), _dual(node[2])
    if op in ("add", "sub"):
        sign = 1.0 if op == "add" else -1.0

        def addsub(x: torch.Tensor, p: dict) -> tuple[Any, Tangents]:
            (a, da), (b, db) = g(x, p), h(x, p)
            return (a + b if sign > 0 else a - b), _sum(da, db, sign)

        return addsub
    if op == "mul":
        def mul(x: torch.Tensor, p: dict) -> tuple[Any, Tangents]:
            (a, da), (b, db) = g(x, p), h(x, p)
            return a * b, _sum(_scale(da, b), _scale(db, a))

        return mul
    if op == "div":
        def div(x: torch.Tensor, p: dict) -> tuple[Any, Tangents]:
            (a, da), (b, db) = g(x, p), h(x, p)
            v = a / b
            return v, _sum(_scale(da, 1.0 / b), _scale(db, v / b), -1.0)

        return div
    if op == "pow":
        return _pow(g, h, node[2])
    raise ValueError(f"unknown operation {op!r}")


def _pow(g: DualFn, h: DualFn, exponent: Node) -> DualFn:
    """u ** w: by u, w·u^(w−1) (0 where w = 0); by w, u^w·log(u) (0 where u = 0 and w ≥ 0)."""
    if exponent[0] == "num":
        c = exponent[1]

        def power(x: torch.Tensor, p: dict) -> tuple[Any, Tangents]:
            u, du = g(x, p)
            u = _full(u, x)
            v = u ** c
            return v, (_scale(du, c * u ** (c - 1.0)) if du and c != 0 else {})

        return power

    def general(x: torch.Tensor, p: dict) -> tuple[Any, Tangents]:
        (u, du), (w, dw) = g(x, p), h(x, p)
        u = _full(u, x)
        v = u ** w
        out: Tangents = {}
        if du:
            out = _scale(du, torch.where(_full(w, u) == 0, 0.0, w * u ** (w - 1.0)))
        if dw:
            out = _sum(out, _scale(dw, torch.where((u == 0) & (_full(w, u) >= 0), 0.0, v * torch.log(u))))
        return v, out

    return general


def _minmax(op: str, left: Node, right: Node) -> DualFn:
    if right[0] == "num" or left[0] == "num":
        (value,), other = (right[1:], left) if right[0] == "num" else (left[1:], right)
        g = _dual(other)

        def clamp(x: torch.Tensor, p: dict) -> tuple[Any, Tangents]:
            u, du = g(x, p)
            u = _full(u, x)
            if op == "max":
                return torch.clamp(u, min=value), (_scale(du, (u >= value).to(u.dtype)) if du else {})
            return torch.clamp(u, max=value), (_scale(du, (u <= value).to(u.dtype)) if du else {})

        return clamp
    pick = torch.maximum if op == "max" else torch.minimum
    g, h = _dual(left), _dual(right)

    def both(x: torch.Tensor, p: dict) -> tuple[Any, Tangents]:
        (a, da), (b, db) = g(x, p), h(x, p)
        a, b = torch.broadcast_tensors(_full(a, x), _full(b, x))
        loses_a, loses_b = (a < b, a > b) if op == "max" else (a > b, a < b)  # NaN: neither loses
        tie = a == b
        ka = torch.where(tie, 0.5, (~loses_a).to(a.dtype)) if da else None
        kb = torch.where(tie, 0.5, (~loses_b).to(a.dtype)) if db else None
        return pick(a, b), _sum(_scale(da, ka), _scale(db, kb))

    return both
