"""The named library: every entry builds, expression entries agree with their text, smelu and
helu behave as their papers define them."""

from __future__ import annotations

import math

import pytest
import torch

import actsearch
from actsearch.errors import UserError
from actsearch.grammar import library, parse

EXPECTED = ("relu", "prelu", "gelu", "swish", "silu", "mish", "elu", "selu", "softplus", "tanh", "sigmoid",
            "smelu", "helu")  # fmt: skip


def test_names_citations_and_expressions():
    assert set(EXPECTED) <= set(library.NAMES)
    for name in library.NAMES:
        assert re_year(library.citation(name)), name
        module = library.get(name)
        assert isinstance(module, torch.nn.Module)
        assert module(torch.randn(3, 4)).shape == (3, 4)
    assert library.expression("swish") == "x * sigmoid(beta * x)"
    assert library.expression("helu") is None and library.expression("smelu") is None
    assert actsearch.get("smelu", beta=1.0)(torch.tensor([5.0])).item() == 5.0


def re_year(text):
    import re

    return re.search(r"\((19|20)\d\d\)", text) is not None


def test_expression_entries_match_their_module():
    x = torch.linspace(-5, 5, 101)
    for name in library.NAMES:
        text = library.expression(name)
        if text is None:
            continue
        act = parse(text, **library.defaults(name))
        torch.testing.assert_close(library.get(name)(x), act.module(fast=False)(x))


def test_prelu_and_swish_parameters():
    prelu = library.get("prelu")
    assert dict(prelu.named_parameters())["alpha"].item() == 0.25
    assert prelu(torch.tensor([-2.0])).item() == -0.5
    swish = library.get("swish", beta=2.0)
    assert dict(swish.named_parameters())["beta"].item() == 2.0
    torch.testing.assert_close(swish(torch.tensor([1.0])), torch.tensor([1.0 / (1 + math.exp(-2.0))]))


def test_smelu_is_piecewise_and_continuously_differentiable():
    beta = 0.5
    m = library.get("smelu", beta=beta)
    x = torch.tensor([-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0], dtype=torch.float64, requires_grad=True)
    y = m(x)
    expected = [0.0, 0.0, 0.25**2 / 2, 0.25**2 / (4 * 0.5) * 4 / 2 * 0.5, 0.75**2 / 2, 0.5, 1.0]
    expected[3] = 0.5**2 / (4 * beta)
    torch.testing.assert_close(y, torch.tensor(expected, dtype=torch.float64))
    (g,) = torch.autograd.grad(y.sum(), x)
    torch.testing.assert_close(g, torch.tensor([0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0], dtype=torch.float64))
    with pytest.raises(UserError):
        library.get("smelu", beta=0.0)


def test_helu_forward_is_relu_and_backward_passes_above_minus_alpha():
    m = library.get("helu", alpha=0.1)
    x = torch.tensor([-1.0, -0.2, -0.05, 0.0, 0.3], requires_grad=True)
    y = m(x)
    assert torch.equal(y, torch.relu(x))
    (g,) = torch.autograd.grad(y.sum(), x)
    assert g.tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]
    assert torch.autograd.gradcheck(
        lambda t: m(t), (torch.tensor([0.5, 2.0], dtype=torch.float64, requires_grad=True),)
    )


def test_unknown_names_and_parameters_are_user_errors():
    with pytest.raises(UserError, match="unknown activation 'swishy'; known: relu"):
        library.get("swishy")
    with pytest.raises(UserError, match="no parameter 'gamma'"):
        library.get("swish", gamma=1.0)
    with pytest.raises(UserError):
        library.expression("nope")
