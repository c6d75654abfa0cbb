"""Canonical text: a cheap structural normal form, printed back in the expression language.

The tree goes to sympy with sigmoid/softplus/relu kept opaque, is ``expand``-ed (products and
integer powers multiplied out, sums flattened and sorted by sympy's canonical order) and is
printed back through :func:`~actsearch.grammar.symbolic.from_sympy`. ``simplify`` is never
used: it is slow (0.1–1.4 s) and still misses the identities the fingerprint catches.

Guarantees: the result parses, and ``parse(canonical)`` has the same fingerprint as the input.
Whenever sympy's automatic rewrites would change a value on the probe set (``exp(log(x))`` → x
changes values for x < 0) or the tree is too big to expand cheaply, the canonical text is the
input tree printed in standard form instead.
"""

from __future__ import annotations

import math

from actsearch.grammar.fingerprint import fingerprint
from actsearch.grammar.nodes import Node, to_text, walk

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
    except (ValueError, TypeError, ArithmeticError, RecursionError, AttributeError):
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
        e = node[2]
        k = e[1] if e[0] == "num" else (e[1][1] if e[0] == "neg" and e[1][0] == "num" else None)
        if k is not None and float(k).is_integer() and k >= 0:
            return float(math.comb(int(kids[0] + k - 1), int(k))) if kids[0] > 1 else 1.0
        return kids[0] + kids[1]
    return sum(kids)  # a function: its argument is expanded, it stays one term outside
