"""Library activations as functions inside expressions: gelu(x), silu(x), elu(x), selu(x), mish(x),
softsign(x) — parse, fingerprint, canonical text, compiled kernels, properties and export."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import actsearch
from actsearch.grammar import library
from actsearch.grammar.parse import ExpressionError
from actsearch.results import export

TORCH = {"gelu": F.gelu, "silu": F.silu, "elu": F.elu, "selu": torch.selu, "mish": F.mish,
         "softsign": F.softsign}
COMPOSED = {  # the same functions written without the library names
    "gelu": "0.5*x*(1 + erf(x/sqrt(2)))",
    "silu": "x/(1 + exp(-x))",
    "elu": "max(x, 0) + exp(min(x, 0)) - 1",
    "selu": library.expression("selu"),
    "mish": "x*tanh(log(1 + exp(x)))",
    "softsign": "x/(1 + abs(x))",
}
X = torch.linspace(-7.0, 7.0, 2001, dtype=torch.float64)


@pytest.mark.parametrize("name", sorted(TORCH))
def test_parse_and_fingerprint_equal_to_the_composed_form(name: str) -> None:
    act = actsearch.parse(f"{name}(x)")
    assert act.fingerprint == actsearch.parse(COMPOSED[name]).fingerprint
    assert act.fingerprint != actsearch.parse("relu(x)").fingerprint
    assert act.canonical == f"{name}(x)"
    assert actsearch.parse(act.canonical).fingerprint == act.fingerprint


def test_gelu_against_the_erf_form_and_a_nearby_function() -> None:
    fp = actsearch.parse("gelu(x)").fingerprint
    assert fp == actsearch.parse("0.5*x*(1+erf(x/sqrt(2)))").fingerprint
    assert fp == actsearch.parse(library.expression("gelu")).fingerprint
    assert fp != actsearch.parse("x*sigmoid(1.702*x)").fingerprint  # the sigmoid approximation differs


@pytest.mark.parametrize("name", sorted(TORCH))
def test_compiled_matches_torch_values_and_gradients(name: str) -> None:
    for fast in (True, False):
        module = actsearch.parse(f"2 * {name}(x) - {name}(-x)").module(fast=fast).double()
        x = X.clone().requires_grad_()
        y = module(x)
        y.sum().backward()
        ref_x = X.clone().requires_grad_()
        ref = 2 * TORCH[name](ref_x) - TORCH[name](-ref_x)
        ref.sum().backward()
        torch.testing.assert_close(y, ref, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(x.grad, ref_x.grad, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", sorted(TORCH))
def test_numpy_values_match_torch(name: str) -> None:
    act = actsearch.parse(f"{name}(x)")
    assert act(X.numpy()) == pytest.approx(TORCH[name](X).numpy(), rel=1e-12, abs=1e-12)


def test_sympy_form_is_the_genuine_function() -> None:
    import sympy as sp

    expr = actsearch.parse("gelu(x)").expr
    assert float(expr.subs(sp.Symbol("x", real=True), 1.3)) == pytest.approx(float(F.gelu(torch.tensor(1.3,
                                                                              dtype=torch.float64))))
    assert "erf" in str(expr)


def test_learnable_constant_inside_a_library_function() -> None:
    act = actsearch.parse("gelu(beta * x)", beta=2.0)
    module = act.module()
    assert [n for n, _ in module.named_parameters()] == ["beta"]
    x = torch.linspace(-3, 3, 7)
    torch.testing.assert_close(module(x), F.gelu(2.0 * x))
    assert act.fingerprint != actsearch.parse("gelu(x)").fingerprint


def test_properties_of_library_functions() -> None:
    gelu = actsearch.parse("gelu(x)").properties()
    assert gelu["min_value"] == pytest.approx(-0.16997, abs=1e-4) and not gelu["monotonic"]
    soft = actsearch.parse("softsign(x)").properties()
    assert soft["monotonic"] and soft["odd"] and soft["smooth"]
    elu = actsearch.parse("elu(x)").properties()
    assert elu["monotonic"] and elu["bounded_below"] and not elu["bounded_above"]


def test_wrong_arity_and_unknown_names_still_refused() -> None:
    with pytest.raises(ExpressionError, match="takes 1 argument"):
        actsearch.parse("gelu(x, x)")
    with pytest.raises(ExpressionError, match="needs its argument in parentheses"):
        actsearch.parse("gelu + x")
    with pytest.raises(ExpressionError, match="known: .*gelu"):
        actsearch.parse("geglu(x)")


def test_alphaevolve_finds_as_library_names() -> None:
    sine, sinc = library.expression("gelu-sine"), library.expression("gelu-sinc")
    assert sine == "gelu(x) + 0.1 * sin(x)"
    assert sinc == f"gelu(x) * (1 + 0.5 * sinc({math.pi!r} * x))"  # the published code's jnp.sinc: normalised
    x = torch.linspace(-5, 5, 101, dtype=torch.float64)
    torch.testing.assert_close(library.get("gelu-sine").double()(x), F.gelu(x) + 0.1 * torch.sin(x))
    torch.testing.assert_close(library.get("gelu-sinc").double()(x),
                               F.gelu(x) * (1 + 0.5 * torch.sinc(x)))  # torch.sinc is sin(πx)/(πx)
    torch.testing.assert_close(library.get("gelu-sinc-unnorm").double()(x),
                               F.gelu(x) * (1 + 0.5 * torch.sinc(x / math.pi)))  # sin(x)/x
    assert actsearch.parse(sine).fingerprint == actsearch.parse("0.5*x*(1+erf(x/sqrt(2))) + sin(x)/10").fingerprint
    assert actsearch.parse(sinc).fingerprint != actsearch.parse(library.expression("gelu-sinc-unnorm")).fingerprint
    assert "arXiv:2602.05688" in library.citation("gelu-sinc")
    assert "normalised" in library.citation("gelu-sinc")
    from actsearch.commands.evaluate import BASELINES

    assert {"gelu-sine", "gelu-sinc"} <= set(BASELINES)


@pytest.mark.parametrize("text", ["gelu(x) + 0.1 * sin(x)", "gelu(x) * (1 + 0.5 * sinc(x))",
                                  "selu(beta * x) + softsign(x) - elu(x) * mish(x) + silu(x)"])
def test_export_round_trip(tmp_path, text: str) -> None:
    out = export.write(text, {"beta": 1.5}, tmp_path / "act_mod.py")
    cls = export.load_module_class(out, _class(out))
    module = cls().double()
    ref = actsearch.parse(text, beta=1.5).module().double()
    x = X.clone()
    torch.testing.assert_close(module(x), ref(x), rtol=1e-12, atol=1e-12)
    scripted = export.write(text, {"beta": 1.5}, tmp_path / "act.pt", fmt="torchscript")
    loaded = torch.jit.load(str(scripted))
    torch.testing.assert_close(loaded(X.float()), ref.float()(X.float()), rtol=1e-6, atol=1e-6)


def _class(path) -> str:
    import ast

    return next(n.name for n in ast.parse(path.read_text()).body if isinstance(n, ast.ClassDef))
