"""Node tree ⇄ sympy, built by walking trees (never ``sympify`` of text).

``to_sympy`` gives the genuine sympy expression (``sigmoid(u)`` is ``1/(1 + exp(-u))``,
``relu(u)`` is ``Max(u, 0)``, ``gelu(u)`` is ``u·(1 + erf(u/√2))/2``: the forms of
:mod:`actsearch.grammar.functions`); with ``opaque=True`` the table's opaque functions (sigmoid,
softplus, relu and the library functions gelu, silu, elu, selu, mish, softsign) stay undefined
sympy functions, so that :mod:`actsearch.grammar.canonical` can expand around them and print
them back. ``from_sympy`` turns such an expression back into a node tree, or raises
``ValueError`` for anything outside the language (``zoo``, ``nan`` …).

Exact arithmetic is bounded, so that no text makes sympy compute a number with millions of
digits (``9^9^9``, ``2^2^2^2^2^2``): a power of two constants is computed exactly only when its
exponent is at most :data:`MAX_EXACT_EXPONENT` in magnitude and its result has at most about
:data:`MAX_EXACT_BITS` bits; otherwise it is its float64 value (±inf or NaN where float64 gives
that, exactly as the numpy and torch evaluations compute it). A constant exponent above
:data:`MAX_EXACT_EXPONENT` on a non-constant base (``(x + 1)^(9^9)``) becomes a sympy Float, which
sympy never multiplies out, and an exact number that grows past :data:`MAX_EXACT_BITS` bits
becomes a Float.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import sympy as sp

from actsearch.grammar.functions import FUNCTIONS
from actsearch.grammar.nodes import Node

X_SYMBOL = sp.Symbol("x", real=True)
MAX_EXACT_EXPONENT = 64  # |n| of a constant exponent sympy may apply exactly (a larger one: float)
MAX_EXACT_BITS = 4096  # bits of an exact number (numerator or denominator; larger: float)
OPAQUE = tuple(f.name for f in FUNCTIONS.values() if f.opaque)
BOUNDED = ("add", "sub", "mul", "div")  # exact results past MAX_EXACT_BITS become Floats (pow: see power)
# each operation's sympy builder: the sympy function the table names, or the table's own builder
_BUILDERS: dict[str, Any] = {
    name: getattr(sp, f.sympy) if isinstance(f.sympy, str) else f.sympy for name, f in FUNCTIONS.items()
}
# sympy function -> the unary function it prints back as (sqrt comes back from a power instead)
_NAMES: dict[Any, str] = {
    getattr(sp, f.sympy): name for name, f in FUNCTIONS.items() if f.arity == 1 and isinstance(f.sympy, str)
}


def symbol(name: str) -> sp.Symbol:
    """The sympy symbol of a learnable constant (real)."""
    return sp.Symbol(name, real=True)


def number(value: float) -> sp.Expr:
    """An exact sympy number for short decimals (0.5 → 1/2), a Float otherwise."""
    if value.is_integer():
        return sp.Integer(int(value))
    text = repr(value)
    if len(text) <= 10:
        frac = Fraction(text)
        return sp.Rational(frac.numerator, frac.denominator)
    return sp.Float(value, 17)


def to_sympy(
    tree: Node, *, args: tuple = (), params: dict[str, Any] | None = None, opaque: bool = False
) -> Any:
    """The sympy expression of a tree (``args`` replace ``("arg", i)`` leaves)."""
    params = params or {}

    def go(node: Node) -> Any:
        op = node[0]
        if op == "x":
            return X_SYMBOL
        if op == "num":
            return number(node[1])
        if op == "param":
            return params.get(node[1]) if params.get(node[1]) is not None else symbol(node[1])
        if op == "arg":
            return args[node[1]]
        kids = [go(c) for c in node[1:]]
        if op in BOUNDED:
            return _bounded(_BUILDERS[op](*kids))
        if op == "pow":
            return power(kids[0], kids[1])
        if opaque and op in OPAQUE:
            return sp.Function(op)(*kids)
        return _BUILDERS[op](*kids)

    return go(tree)


def _bits(number: Any) -> int:
    """Bits of an exact number's numerator or denominator, whichever is larger."""
    return max(abs(int(number.p)).bit_length(), int(number.q).bit_length())


def _bounded(expr: Any) -> Any:
    """``expr``, or its Float when it is an exact number of more than MAX_EXACT_BITS bits."""
    if expr.is_Rational and _bits(expr) > MAX_EXACT_BITS:
        return sp.Float(expr, 17)
    return expr


def power(base: Any, exp: Any) -> Any:
    """``base ** exp`` without exact arithmetic on huge numbers (see the module docstring)."""
    if not exp.is_Number or not exp.is_finite:
        return base**exp
    if base.is_Number and base.is_finite:
        if (
            exp.is_Rational
            and base.is_Rational
            and abs(exp) <= MAX_EXACT_EXPONENT
            and _bits(base) * abs(int(exp.p)) <= MAX_EXACT_BITS
        ):
            return base**exp
        return _float_power(base, exp)
    if abs(exp) > MAX_EXACT_EXPONENT:
        return base ** sp.Float(exp, 17)
    coeff = base.as_coeff_Mul()[0]  # sympy raises a product's numeric factor to the power exactly
    if coeff.is_Rational and exp.is_Rational and _bits(coeff) * abs(int(exp.p)) > MAX_EXACT_BITS:
        return base ** sp.Float(exp, 17)
    return base**exp


def _float_power(base: Any, exp: Any) -> Any:
    """The float64 value of a power of two numbers, as numpy computes it (±oo or nan when not finite)."""
    import numpy as np

    values = []
    for v in (base, exp):
        try:
            values.append(float(v))
        except OverflowError:
            values.append(math.inf if v > 0 else -math.inf)
    with np.errstate(all="ignore"):
        value = float(np.power(np.float64(values[0]), np.float64(values[1])))
    if math.isnan(value):
        return sp.nan
    if math.isinf(value):
        return sp.oo if value > 0 else -sp.oo
    return number(value)


def from_sympy(expr: Any) -> Node:
    """A node tree for a sympy expression in the language (ValueError otherwise)."""
    if expr.is_Symbol:
        return ("x",) if expr.name == "x" else ("param", expr.name)
    if expr.is_Integer:
        return _num(int(expr))
    if expr.is_Rational:
        return _signed(("div", ("num", float(abs(expr.p))), ("num", float(expr.q))), expr.p < 0)
    if expr.is_Float or isinstance(expr, sp.NumberSymbol):
        value = float(expr)
        if not math.isfinite(value):
            raise ValueError(f"not a finite number: {expr}")
        return _num(value)
    if expr.is_Add:
        terms = list(expr.as_ordered_terms())
        node = from_sympy(terms[0])
        for term in terms[1:]:
            if term.could_extract_minus_sign():
                node = ("sub", node, from_sympy(-term))
            else:
                node = ("add", node, from_sympy(term))
        return node
    if expr.is_Mul:
        return _mul(expr)
    if expr.is_Pow:
        base, exp = expr.args
        if exp == sp.Rational(1, 2):
            return ("sqrt", from_sympy(base))
        if exp.is_Number and exp < 0:
            return ("div", ("num", 1.0), from_sympy(base**-exp))
        return ("pow", _base(base), from_sympy(exp))
    if isinstance(expr, (sp.Max, sp.Min)):
        name = "max" if isinstance(expr, sp.Max) else "min"
        kids = [from_sympy(a) for a in expr.args]
        node = kids[0]
        for kid in kids[1:]:
            node = (name, node, kid)
        return node
    if expr.func in _NAMES:
        return (_NAMES[expr.func], from_sympy(expr.args[0]))
    name = getattr(expr.func, "__name__", "")
    if name in OPAQUE and len(expr.args) == 1:
        return (name, from_sympy(expr.args[0]))
    raise ValueError(f"no expression-language form for {expr!r}")


def _num(value: float) -> Node:
    return _signed(("num", float(abs(value))), value < 0)


def _signed(node: Node, negative: bool) -> Node:
    return ("neg", node) if negative else node


def _base(base: Any) -> Node:
    return from_sympy(base)


def _mul(expr: Any) -> Node:
    coeff, factors = expr.as_coeff_mul()
    numer, denom = [], []
    for f in factors:
        if f.is_Pow and f.args[1].is_Number and f.args[1] < 0:
            denom.append(f.args[0] ** -f.args[1])
        else:
            numer.append(f)
    negative = coeff < 0
    coeff = abs(coeff)
    if coeff.is_Rational and not coeff.is_Integer:
        if coeff.p != 1:
            numer.insert(0, sp.Integer(coeff.p))
        denom.insert(0, sp.Integer(coeff.q))
    elif coeff != 1:
        numer.insert(0, coeff)
    node = _product(numer) if numer else ("num", 1.0)
    if denom:
        node = ("div", node, _product(denom))
    return _signed(node, negative)


def _product(factors: list) -> Node:
    node = from_sympy(factors[0])
    for f in factors[1:]:
        node = ("mul", node, from_sympy(f))
    return node
