"""The primitive table: the unary and binary units of Ramachandran, Zoph & Le (2017).

Each :class:`Primitive` is defined once, by a ``template`` in the expression language with
``{0}`` (and ``{1}``) for its operands and ``beta`` for its learnable constant; its tree, sympy
form and torch form are all derived from that text, so the three can never disagree.
Search spaces build candidates as text: ``BINARY["sigmul"].apply("x", "tanh(x)")`` →
``"sigmoid(x) * (tanh(x))"``. Placeholders are parenthesised where precedence needs it, so any
expression text can be substituted.

Protected forms (the constants are part of the templates and so of the fingerprint):

- ``div`` is ``x1 / (x2 + 1e-6)`` (the paper's x1/(x2 + ε), ε = 1e-6);
- ``log`` is ``log(|x| + 1e-6)``;
- ``sqrt`` is ``sqrt(|x| + 1e-12)``: defined everywhere, and its gradient at 0 is finite
  (the language's own ``sqrt`` is the real square root, NaN for negative input).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from actsearch.grammar.nodes import Node
from actsearch.grammar.parse import ExpressionError, parse_tree

EPS_DIV = 1e-6
EPS_LOG = 1e-6
EPS_SQRT = 1e-12
_ARGS = {"u0": ("arg", 0), "u1": ("arg", 1)}


@dataclass(frozen=True)
class Primitive:
    """One unit: ``name``, ``arity`` (1 or 2) and its expression-language ``template``."""

    name: str
    arity: int
    template: str

    def apply(self, *args: str, param: str = "beta") -> str:
        """The template with ``args`` substituted and its ``beta`` renamed to ``param``."""
        if len(args) != self.arity:
            raise ValueError(f"{self.name} takes {self.arity} operand(s), got {len(args)}")
        template = re.sub(r"\bbeta\b", param, self.template) if param != "beta" else self.template
        return template.format(*args)

    @property
    def learnable(self) -> bool:
        """Whether the template has a learnable constant (``beta``)."""
        return re.search(r"\bbeta\b", self.template) is not None

    @cached_property
    def tree(self) -> Node:
        """The template as a node tree with ``("arg", i)`` leaves for the operands."""
        return parse_tree(self.template.format("u0", "u1"), variables=_ARGS)

    def sympy(self, *args: Any, beta: Any = None) -> Any:
        """The sympy form applied to sympy operands (``beta`` defaults to the symbol beta)."""
        from actsearch.grammar.symbolic import to_sympy

        return to_sympy(self.tree, args=args, params={"beta": beta} if beta is not None else None)

    def torch(self, *args: Any, beta: Any = 1.0) -> Any:
        """The torch form applied to tensors (``beta``: a float or tensor)."""
        from actsearch.grammar.compile import closure

        return closure(self.tree)(args[0], args, {"beta": beta})


def _u(name: str, template: str) -> Primitive:
    return Primitive(name, 1, template)


def _b(name: str, template: str) -> Primitive:
    return Primitive(name, 2, template)


UNARY: dict[str, Primitive] = {p.name: p for p in (
    _u("x", "{0}"),
    _u("neg", "-({0})"),
    _u("abs", "abs({0})"),
    _u("square", "({0})^2"),
    _u("cube", "({0})^3"),
    _u("sqrt", f"sqrt(abs({{0}}) + {EPS_SQRT!r})"),
    _u("scale", "beta * ({0})"),
    _u("shift", "{0} + beta"),
    _u("log", f"log(abs({{0}}) + {EPS_LOG!r})"),
    _u("exp", "exp({0})"),
    _u("sin", "sin({0})"),
    _u("cos", "cos({0})"),
    _u("sinh", "sinh({0})"),
    _u("cosh", "cosh({0})"),
    _u("tanh", "tanh({0})"),
    _u("asinh", "asinh({0})"),
    _u("atan", "atan({0})"),
    _u("sinc", "sinc({0})"),
    _u("relu", "max({0}, 0)"),
    _u("minzero", "min({0}, 0)"),
    _u("sigmoid", "sigmoid({0})"),
    _u("softplus", "softplus({0})"),
    _u("gauss", "exp(-({0})^2)"),
    _u("erf", "erf({0})"),
    _u("beta", "beta"),
)}  # fmt: skip

BINARY: dict[str, Primitive] = {p.name: p for p in (
    _b("add", "{0} + {1}"),
    _b("sub", "{0} - ({1})"),
    _b("mul", "({0}) * ({1})"),
    _b("div", f"({{0}}) / ({{1}} + {EPS_DIV!r})"),
    _b("max", "max({0}, {1})"),
    _b("min", "min({0}, {1})"),
    _b("sigmul", "sigmoid({0}) * ({1})"),
    _b("gaussdiff", "exp(-beta * ({0} - ({1}))^2)"),
    _b("laplacediff", "exp(-beta * abs({0} - ({1})))"),
    _b("mix", "beta * ({0}) + (1 - beta) * ({1})"),
)}  # fmt: skip


def unary_from_text(name: str, text: str) -> Primitive:
    """A user primitive from expression text in ``x`` (e.g. ``"x * tanh(x)"``)."""
    from actsearch.grammar.nodes import to_text

    if not re.fullmatch(r"[A-Za-z_][A-Za-z_0-9]*", name or ""):
        raise ExpressionError(f"primitive name {name!r} must be an identifier")
    tree = parse_tree(text)
    return Primitive(name, 1, to_text(tree, x="({0})"))
