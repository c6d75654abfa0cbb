"""The forward-mode closures: the same values as the compiled module, the derivatives autograd
gives for the same operations (by x and by each learnable constant), on the paper's whole
one-unit space, on random trees, and on the library functions at their awkward points."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings

from actsearch.grammar import parse
from actsearch.grammar.dual import X, with_derivatives
from actsearch.grammar.nodes import to_text
from actsearch.search.space.files import load_space
from tests.helpers.strategies import trees

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

# awkward points: 0 (abs, relu, sinc, ties of max/min), ±1, and values either side of them
POINTS = torch.tensor([0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 1e-3, -1e-3, 3.7, -3.7, 21.0, -21.0],
                      dtype=torch.float64)


def autograd_derivatives(module, x, params):
    """f′ and ∂f/∂c by autograd, per element (f is elementwise: the gradient of the sum)."""
    xs = x.clone().requires_grad_(True)
    ps = {n: torch.full_like(x, v).requires_grad_(True) for n, v in params.items()}
    y = module.apply(xs, ps)
    if not y.requires_grad:
        return torch.zeros_like(x), {n: torch.zeros_like(x) for n in ps}
    got = torch.autograd.grad(y.sum(), [xs, *ps.values()], allow_unused=True)
    fill = [torch.zeros_like(x) if g is None else g for g in got]
    return fill[0], dict(zip(ps, fill[1:], strict=True))


def as_tensor(t, x):
    if t is None:
        return torch.zeros_like(x)
    return t.expand(x.shape) if isinstance(t, torch.Tensor) else torch.full_like(x, t)


def check(text: str, params: dict[str, float], fast: bool = True, strict: bool = True) -> None:
    """Values equal to the module's; derivatives equal to autograd's (``strict=False``: where ours
    is finite, see the module docstring of :mod:`actsearch.grammar.dual` for 0·∞)."""
    act = parse(text, **params)
    module = act.module(fast=fast).double()
    x = POINTS
    consts = {n: torch.full_like(x, v) for n, v in act.params.items()}
    value, tangents = with_derivatives(module)(x, consts)
    torch.testing.assert_close(value, module.apply(x, consts), rtol=0, atol=0, equal_nan=True)
    dx, dc = autograd_derivatives(module, x, act.params)
    for name, theirs in ((X, dx), *dc.items()):
        ours = as_tensor(tangents.get(name), x)
        where = torch.ones_like(x, dtype=torch.bool) if strict else ours.isfinite()
        torch.testing.assert_close(ours[where], theirs[where], rtol=1e-9, atol=1e-12, equal_nan=True,
                                   msg=lambda m, n=name: f"d/d{n or 'x'} of {text}: {m}")


def test_every_function_of_the_paper_space_differentiates_as_autograd_does():
    space = load_space("paper-1")
    seen = 0
    for cand in space.enumerate():
        check(*space.to_text(cand))
        seen += 1
    assert seen == space.raw_size == 6250


def test_library_functions_and_native_kernels():
    for text in ("relu(x)", "gelu(x)", "silu(x)", "elu(x)", "selu(x)", "mish(x)", "softsign(x)",
                 "softplus(x)", "x * sigmoid(x)", "0.5 * x * (1 + erf(x / sqrt(2)))", "max(x, 0)",
                 "max(x, -x)", "min(x, 2 * x)", "x ^ beta", "beta ^ x", "sinc(beta * x)", "2", "beta",
                 "x * sigmoid(beta * x)", "max(x, 1)", "min(1, x)", "sqrt(abs(x))", "log(abs(x) + 1e-6)"):
        check(text, {"beta": 1.5} if "beta" in text else {})
        check(text, {"beta": 1.5} if "beta" in text else {}, fast=False)


@settings(max_examples=150, deadline=None)
@given(trees)
def test_random_trees(tree):
    text = to_text(tree)
    names = sorted({n[1] for n in _walk(tree) if n[0] == "param"})
    check(text, {n: 0.7 + 0.4 * i for i, n in enumerate(names)}, strict=False)


def _walk(node):
    yield node
    if node[0] not in ("x", "num", "param"):
        for child in node[1:]:
            yield from _walk(child)
