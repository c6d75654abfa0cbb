"""Canonical text: a cheap structural normal form, printed back in the expression language.

The tree goes to sympy with sigmoid/softplus/relu kept opaque, is ``expand``-ed (products and
integer powers multiplied out, sums flattened and sorted by sympy's canonical order) and is
printed back through :func:`~actsearch.grammar.symbolic.from_sympy`. ``simplify`` is never
used: it is slow (0.1–1.4 s) and still misses the identities the fingerprint catches.

Guarantees: the result parses, and ``parse(canonical)`` has the same fingerprint as the input.
Whenever sympy's automatic rewrites would change a value on the probe set (``exp(log(x))`` → x
changes values for x < 0) or the tree is too big to expand cheaply, the canonical text is the
input tree printed in standard form instead; so is any failure of sympy. What sympy computes is
bounded up front (no hang, no deadline needed): at most MAX_EXPAND_NODES nodes, at most MAX_TERMS
terms once multiplied out (constant exponents counted at their value: ``(x + 1)^(8 * 8)`` has 65),
and exact powers of constants bounded as :mod:`actsearch.grammar.symbolic` describes.
"""

from __future__ import annotations

import math

import numpy as np

from actsearch.grammar.fingerprint import fingerprint
from actsearch.grammar.nodes import Node, evaluate, to_text, walk

MAX_EXPAND_NODES = 60  # larger trees are printed as they are
MAX_TERMS = 64  # expand only if the multiplied-out form has at most this many terms (estimate)


def canonical_text(tree: Node, fp: str | None = None) -> str:
    """Canonical text of a tree (``fp``: its fingerprint when already known)."""
    plain = to_text(tree)
    if not _cheap(tree):
        return plain
    try:
        candidate = to_text(_expanded(tree))
        from actsearch.grammar.parse import parse_tree

        if fingerprint(parse_tree(candidate)) == (fp or fingerprint(tree)):
            return candidate
    except Exception:  # noqa: BLE001 - any failure of sympy means "no canonical form": the input as printed
        pass
    return plain


def _expanded(tree: Node) -> Node:
    import sympy as sp

    from actsearch.grammar.symbolic import from_sympy, to_sympy

    return from_sympy(sp.expand(to_sympy(tree, opaque=True)))


def _cheap(tree: Node) -> bool:
    """Whether expand stays small: few nodes and few terms once multiplied out."""
    if len(walk(tree)) > MAX_EXPAND_NODES:
        return False
    return _terms(tree) <= MAX_TERMS


def _terms(node: Node) -> float:
    """An upper estimate of the number of terms ``expand`` produces (inside functions too)."""
    op = node[0]
    if op in ("x", "num", "param", "arg"):
        return 1.0
    kids = [_terms(c) for c in node[1:]]
    if op in ("add", "sub"):
        return kids[0] + kids[1]
    if op in ("mul", "div"):
        return kids[0] * kids[1] if op == "mul" else kids[0] + kids[1]
    if op == "pow":
        k = _constant(node[2])  # expand multiplies out integer powers, negative ones in the denominator
        if k is not None and k.is_integer():
            k = abs(k)
            if kids[0] <= 1:
                return 1.0
            if kids[0] > MAX_TERMS or k > MAX_TERMS:
                return math.inf
            return float(math.comb(int(kids[0] + k - 1), int(k)))
        return kids[0] + kids[1]
    return sum(kids)  # a function: its argument is expanded, it stays one term outside


def _constant(node: Node) -> float | None:
    """The float64 value of a subtree without x, constants or operands (None otherwise or if not finite)."""
    if any(n[0] in ("x", "param", "arg") for n in walk(node)):
        return None
    value = float(evaluate(node, np.float64(0.0), {}))
    return value if math.isfinite(value) else None
