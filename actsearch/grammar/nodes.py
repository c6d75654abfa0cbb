"""The expression tree: plain nested tuples, a printer and a float64 evaluator.

A node is a tuple ``(op, *children)``; leaves are ``("x",)``, ``("num", value)`` and
``("param", name)``. Tuples compare and hash structurally, which the rewrites below rely on.
Every walker here is recursive, so the parser refuses trees deeper than
:data:`MAX_DEPTH` before any of them runs.

The language's functions mean what their names say over the reals: ``log`` and ``sqrt`` give NaN
for negative input and ``/`` divides by zero to ±inf. Protection (``log(|x| + ε)`` …) lives in the
primitive templates of :mod:`actsearch.grammar.primitives`, not in the language. The operations,
their numpy forms and their precedences are the records of :mod:`actsearch.grammar.functions`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from actsearch.grammar.functions import FUNCTIONS, OPERATORS, PRECEDENCE

Node = tuple  # ("x",) | ("num", float) | ("param", str) | (op, child[, child])

MAX_DEPTH = 100  # deepest tree accepted; the walkers recurse (sympy needs a few frames a level)
X: Node = ("x",)


def num(value: float) -> Node:
    """A number leaf."""
    return ("num", float(value))


def walk(node: Node) -> list[Node]:
    """All nodes in pre-order (iterative)."""
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        out.append(n)
        if n[0] not in ("x", "num", "param"):
            stack.extend(reversed(n[1:]))
    return out


def param_names(node: Node) -> list[str]:
    """Learnable constants in order of first appearance (left to right)."""
    seen: dict[str, None] = {}
    for n in walk(node):
        if n[0] == "param":
            seen.setdefault(n[1], None)
    return list(seen)


def complexity(node: Node) -> int:
    """Number of operations (every node that is not a leaf)."""
    return sum(1 for n in walk(node) if n[0] not in ("x", "num", "param"))


def has_x(node: Node) -> bool:
    """Whether the tree mentions the variable ``x``."""
    return any(n[0] == "x" for n in walk(node))


# ---------------------------------------------------------------- printing
def format_number(value: float) -> str:
    """Shortest text that parses back to exactly ``value`` (non-negative numbers only)."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _prec(node: Node) -> int:
    if node[0] == "num" and node[1] < 0:
        return 3
    return PRECEDENCE.get(node[0], 5)


def to_text(node: Node, x: str = "x") -> str:
    """Print a tree in the expression language; ``parse(to_text(t))`` rebuilds ``t`` exactly."""
    op = node[0]
    if op == "x":
        return x
    if op == "num":
        text = format_number(abs(node[1]))
        return "-" + text if math.copysign(1.0, node[1]) < 0 else text
    if op == "param":
        return node[1]
    if op == "neg":
        return "-" + _wrap(node[1], 4, x)
    if op in OPERATORS:
        left = _wrap(node[1], PRECEDENCE[op] if op != "pow" else 5, x)
        right = _wrap(node[2], PRECEDENCE[op] + 1 if op != "pow" else 4, x)
        sep = "^" if op == "pow" else f" {OPERATORS[op]} "
        return left + sep + right
    return f"{op}({', '.join(to_text(c, x) for c in node[1:])})"


def _wrap(node: Node, need: int, x: str) -> str:
    text = to_text(node, x)
    return text if _prec(node) >= need else f"({text})"


# ---------------------------------------------------------------- rewrites
def stable(node: Node) -> Node:
    """Rewrite overflow-prone patterns into their stable primitives (values are unchanged).

    ``log(1 + exp(u))`` → ``softplus(u)``; ``a / (1 + exp(-u))`` → ``a * sigmoid(u)``;
    ``exp(u) / (1 + exp(u))`` → ``sigmoid(u)``; ``max(u, 0)`` → ``relu(u)``.
    """
    op = node[0]
    if op in ("x", "num", "param"):
        return node
    node = (op, *(stable(c) for c in node[1:]))
    if op == "log":
        u = _one_plus_exp(node[1])
        if u is not None:
            return ("softplus", u)
    elif op == "div":
        u = _one_plus_exp(node[2])
        if u is not None and u[0] == "neg":
            return ("sigmoid", u[1]) if node[1] == ("num", 1.0) else ("mul", node[1], ("sigmoid", u[1]))
        if u is not None and node[1] == ("exp", u):
            return ("sigmoid", u)
    elif op == "max":
        if node[2] == ("num", 0.0):
            return ("relu", node[1])
        if node[1] == ("num", 0.0):
            return ("relu", node[2])
    return node


def _one_plus_exp(node: Node) -> Node | None:
    """``u`` when ``node`` is ``1 + exp(u)`` or ``exp(u) + 1``, else None."""
    if node[0] != "add":
        return None
    a, b = node[1], node[2]
    if a == ("num", 1.0) and b[0] == "exp":
        return b[1]
    if b == ("num", 1.0) and a[0] == "exp":
        return a[1]
    return None


# ---------------------------------------------------------------- numpy evaluation
_NP: dict[str, Any] = {name: f.numpy for name, f in FUNCTIONS.items()}


def evaluate(node: Node, x: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """Values of the tree in float64 at ``x`` (params: name → number or array broadcasting with x)."""
    # np.broadcast_shapes takes any number of shapes (np.broadcast stops at 64 arrays)
    shape = np.broadcast_shapes(np.shape(x), *(np.shape(v) for v in params.values()))
    with np.errstate(all="ignore"):
        return np.broadcast_to(_eval(node, x, params), shape)


def _eval(node: Node, x: np.ndarray, params: dict[str, Any]) -> Any:
    op = node[0]
    if op == "x":
        return x
    if op == "num":
        return node[1]
    if op == "param":
        return params[node[1]]
    return _NP[op](*(_eval(c, x, params) for c in node[1:]))
