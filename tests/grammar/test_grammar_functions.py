"""The function table: each record's forms (numpy, sympy, torch, forward-mode slope, export source)
agree with each other, and the backends read the table instead of keeping functions of their own."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
import torch

import actsearch
from actsearch.grammar import parse
from actsearch.grammar.compile import build, torch_callable
from actsearch.grammar.fingerprint import fingerprint
from actsearch.grammar.functions import CALLS, FUNCTIONS, TABLE
from actsearch.grammar.nodes import evaluate, to_text
from actsearch.grammar.parse import ExpressionError
from actsearch.grammar.symbolic import X_SYMBOL, from_sympy, to_sympy
from actsearch.results import export

X = ("x",)
BETA = 0.75
POINTS = np.concatenate([np.linspace(-4.1, 4.3, 85) + 0.0123, [0.0, -1e-3, 2e-3, 9.7, -11.3]])
NAMES = [f.name for f in TABLE]


def _tree(name: str) -> tuple:
    """The record applied to x (and, for a binary one, to x and the constant beta)."""
    return (name, X) if FUNCTIONS[name].arity == 1 else (name, X, ("param", "beta"))


def _same(a: torch.Tensor, b: torch.Tensor, tol: float) -> None:
    torch.testing.assert_close(a, b, rtol=tol, atol=tol, equal_nan=True)


def test_records_are_unique_and_named_as_the_parser_knows_them():
    assert len(FUNCTIONS) == len(TABLE)
    assert set(CALLS) == {f.name for f in TABLE if f.named}
    assert not {"neg", "add", "sub", "mul", "div", "pow"} & set(CALLS)  # operators have symbols instead
    for name, arity in CALLS.items():
        args = ", ".join(["x"] * arity)
        assert parse(f"{name}({args})").tree == (name, *[X] * arity)
        with pytest.raises(ExpressionError, match=f"'{name}' takes {arity} argument"):
            parse(f"{name}({', '.join(['x'] * (arity + 1))})")
    assert all(f.slope is not None for f in TABLE if f.arity == 1)


@pytest.mark.parametrize("name", NAMES)
def test_torch_computes_the_numpy_reference(name):
    tree = _tree(name)
    want = evaluate(tree, POINTS, {"beta": BETA})
    got = build(tree, fast=False)(torch.tensor(POINTS), (), {"beta": torch.tensor(BETA, dtype=torch.float64)})
    _same(torch.as_tensor(got), torch.tensor(want), 1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_sympy_form_computes_the_numpy_reference(name):
    expr = to_sympy(_tree(name), params={"beta": sp.Rational(3, 4)})
    want = evaluate(_tree(name), POINTS[::7], {"beta": BETA})
    for point, value in zip(POINTS[::7], want, strict=True):
        if math.isfinite(value):  # outside the real domain sympy is complex, numpy NaN
            assert float(expr.subs(X_SYMBOL, sp.Float(point, 17)).evalf(20)) == pytest.approx(value, rel=1e-12,
                                                                                               abs=1e-15), point


@pytest.mark.parametrize("name", NAMES)
def test_sympy_form_prints_back(name):
    tree = _tree(name)
    back = from_sympy(to_sympy(tree, opaque=True))
    assert fingerprint(back) == fingerprint(tree)
    if FUNCTIONS[name].arity == 1 and FUNCTIONS[name].named:  # a function prints back as itself
        assert back == tree


@pytest.mark.parametrize("name", [f.name for f in TABLE if f.arity == 1])
def test_slope_is_the_derivative_autograd_applies(name):
    fn = FUNCTIONS[name]
    u = torch.tensor(POINTS, requires_grad=True)
    v = torch_callable(fn)(u)
    (grad,) = torch.autograd.grad(v.sum(), u)
    _same(fn.slope(u.detach(), v.detach()), grad, 1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_export_form_computes_the_compiled_values(name, tmp_path):
    tree = _tree(name)
    if not np.all(np.isfinite(evaluate(tree, POINTS, {"beta": BETA}))):  # export refuses NaN: the real domain
        tree = (name, ("add", ("abs", X), ("num", 0.5)), *tree[2:])
    text = to_text(tree)
    params = {"beta": BETA} if "beta" in text else {}
    src = export.module_source(text, params)
    path = tmp_path / "exported.py"
    path.write_text(src)
    mine = export.load_module_class(path, ast.parse(src).body[-1].name)().double()
    ref = actsearch.parse(text, **params).module(fast=False).double()
    x1, x2 = torch.tensor(POINTS, requires_grad=True), torch.tensor(POINTS, requires_grad=True)
    y1, y2 = ref(x1), mine(x2)
    y1.sum().backward()
    y2.sum().backward()
    tol = 1e-12 if name in ("asinh", "sinc") else 0.0  # exported as torch's kernels, compiled as ours
    _same(y2, y1, tol)
    _same(x2.grad, x1.grad, tol)


GRAMMAR = Path(actsearch.__file__).parent / "grammar"
BACKENDS = [GRAMMAR / f"{m}.py" for m in ("nodes", "parse", "symbolic", "compile", "dual", "canonical",
                                          "fingerprint", "properties")] + [GRAMMAR.parent / "results" / "codegen.py"]
# names the backends may spell for their structural rewrites (stable forms, fusions, sympy's powers)
STRUCTURAL = {"neg", "add", "sub", "mul", "div", "pow", "max", "min", "exp", "log", "sqrt", "sigmoid",
              "softplus", "relu", "silu"}


def test_backends_keep_no_function_of_their_own():
    """Only the table spells the other functions: a new one is one record, not an edit per backend."""
    table_only = set(FUNCTIONS) - STRUCTURAL
    for path in BACKENDS:
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body
                      and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
        spelled = {node.value for node in ast.walk(tree)
                   if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings}
        assert not spelled & table_only, (path.name, sorted(spelled & table_only))
