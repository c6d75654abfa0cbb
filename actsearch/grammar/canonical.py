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

from actsearch.grammar.fingerprint import fingerprint
from actsearch.grammar.nodes import Node, to_text, walk

MAX_EXPAND_NODES = 60  # larger trees are printed as they are
MAX_POWER = 12  # expand only if the product of nested integer exponents stays below this


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
    """Whether expand stays small: few nodes and modest integer powers."""
    nodes = walk(tree)
    if len(nodes) > MAX_EXPAND_NODES:
        return False
    return _power(tree) <= MAX_POWER


def _power(node: Node) -> float:
    """The largest product of nested numeric exponents along any path."""
    op = node[0]
    if op in ("x", "num", "param", "arg"):
        return 1.0
    inner = max(_power(c) for c in node[1:])
    if op == "pow":
        e = node[2]
        return inner * (
            abs(e[1]) if e[0] == "num" else (abs(e[1][1]) if e[0] == "neg" and e[1][0] == "num" else 1.0)
        )
    return inner
