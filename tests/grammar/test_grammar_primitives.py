"""The primitive table: the Swish paper's units, one template each; text, sympy, torch and numpy
forms agree."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch

from actsearch.grammar import ExpressionError, parse
from actsearch.grammar.primitives import BINARY, UNARY, unary_from_text

UNARY_NAMES = ("x neg abs square cube sqrt scale shift log exp sin cos sinh cosh tanh asinh atan sinc relu "
               "minzero sigmoid softplus gauss erf beta").split()  # fmt: skip
BINARY_NAMES = "add sub mul div max min sigmul gaussdiff laplacediff mix".split()


def test_table_has_the_papers_units():
    assert list(UNARY) == UNARY_NAMES and len(UNARY) == 25
    assert list(BINARY) == BINARY_NAMES and len(BINARY) == 10
    assert all(p.arity == 1 for p in UNARY.values()) and all(p.arity == 2 for p in BINARY.values())
    assert BINARY["div"].template == "({0}) / ({1} + 1e-06)"
    assert UNARY["log"].template == "log(abs({0}) + 1e-06)"
    assert {n for n, p in {**UNARY, **BINARY}.items() if p.learnable} == {
        "scale", "shift", "beta", "gaussdiff", "laplacediff", "mix"}  # fmt: skip


def test_templates_substitute_any_expression_safely():
    u, v = "x - 1", "-x + 2"
    a, b = np.linspace(-3, 3, 31) - 1, -np.linspace(-3, 3, 31) + 2
    x = np.linspace(-3, 3, 31)
    expected = {
        "sub": a - b, "mul": a * b, "div": a / (b + 1e-6), "sigmul": b / (1 + np.exp(-a)),
        "gaussdiff": np.exp(-0.5 * (a - b) ** 2), "mix": 0.5 * a + 0.5 * b, "add": a + b,
    }  # fmt: skip
    for name, want in expected.items():
        act = parse(BINARY[name].apply(u, v), beta=0.5)
        np.testing.assert_allclose(act(x), want, rtol=1e-12, err_msg=name)
    np.testing.assert_allclose(parse(UNARY["square"].apply(u))(x), a**2)
    np.testing.assert_allclose(parse(UNARY["neg"].apply(u))(x), -a)
    assert BINARY["mix"].apply("x", "tanh(x)", param="beta2") == "beta2 * (x) + (1 - beta2) * (tanh(x))"
    with pytest.raises(ValueError):
        UNARY["exp"].apply("x", "x")


@pytest.mark.parametrize("name", UNARY_NAMES + BINARY_NAMES)
def test_text_sympy_torch_and_numpy_forms_agree(name):
    prim = {**UNARY, **BINARY}[name]
    x = np.linspace(-2.5, 2.5, 21) + 0.013
    args = ["x", "sin(x)"][: prim.arity]
    act = parse(prim.apply(*args), beta=0.75)
    values = act(x)
    xt = torch.tensor(x, dtype=torch.float64)
    out = prim.torch(*[xt, torch.sin(xt)][: prim.arity], beta=0.75)
    np.testing.assert_allclose(np.broadcast_to(torch.as_tensor(out).numpy(), x.shape), values, rtol=1e-12)
    s = sp.Symbol("s", real=True)
    expr = prim.sympy(*[s, sp.sin(s)][: prim.arity], beta=sp.Rational(3, 4))
    for xi, vi in zip(x[::5], values[::5], strict=True):
        assert float(expr.subs(s, float(xi)).evalf()) == pytest.approx(vi, rel=1e-9, abs=1e-12)


def test_unary_from_text():
    prim = unary_from_text("xtanh", "x * tanh(x) + 1")
    assert prim.arity == 1
    x = np.linspace(-2, 2, 9)
    np.testing.assert_allclose(parse(prim.apply("2 * x"))(x), 2 * x * np.tanh(2 * x) + 1)
    with pytest.raises(ExpressionError):
        unary_from_text("bad", "x +")
    with pytest.raises(ExpressionError):
        unary_from_text("not a name", "x")
