"""The newer baselines GoLU, ReLU² and xIELU: each library entry against a hand-written torch
version of its paper's formula, with its constants; learnable constants of xIELU train."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from actsearch.commands.evaluate import BASELINES
from actsearch.grammar import library

X = torch.cat([torch.linspace(-8, 8, 161, dtype=torch.float64), torch.tensor([0.0, -1e-3, 1e-3], dtype=torch.float64)])


def golu_torch(x: torch.Tensor) -> torch.Tensor:
    """Das et al. (2025): x · Gompertz(x), Gompertz(x) = a·exp(−b·exp(−c·x)) with a = b = c = 1."""
    return x * torch.exp(-torch.exp(-x))


def relu2_torch(x: torch.Tensor) -> torch.Tensor:
    """So et al. (2021): squared ReLU."""
    return torch.relu(x) ** 2


def xielu_torch(x: torch.Tensor, alpha_p: float = 0.8, alpha_n: float = 0.8, beta: float = 0.5,
                eps: float = -1e-6) -> torch.Tensor:
    """Huang & Schlag (2025), written from the paper: α_p x² + βx (x > 0); α_n(expm1(min(x, ε)) − x) + βx."""
    return torch.where(x > 0, alpha_p * x * x + beta * x, alpha_n * (torch.expm1(torch.clamp(x, max=eps)) - x) + beta * x)


@pytest.mark.parametrize(("name", "reference"), [("golu", golu_torch), ("relu2", relu2_torch), ("xielu", xielu_torch)])
def test_newer_baselines_match_their_papers(name: str, reference) -> None:
    module = library.get(name).double()
    # xIELU's reference code clamps at ε = −1e-6: a difference of α_n·1e-6 at x = 0 only
    torch.testing.assert_close(module(X), reference(X), atol=1e-6 if name == "xielu" else 1e-9, rtol=1e-7)
    assert name in BASELINES
    assert "arXiv:" in library.citation(name)


def test_golu_is_not_gelu_or_silu() -> None:
    y = library.get("golu").double()(X)
    assert not torch.allclose(y, F.gelu(X), atol=1e-3) and not torch.allclose(y, F.silu(X), atol=1e-3)
    assert float(y[X == 0.0][0]) == 0.0 and float(library.get("golu").double()(torch.tensor([10.0]).double())) > 9.99


def test_xielu_constants_start_at_the_papers_values_and_train() -> None:
    params = library.defaults("xielu")
    softplus = lambda v: math.log1p(math.exp(v))  # noqa: E731
    assert softplus(params["alpha"]) == pytest.approx(0.8) and 0.5 + softplus(params["alpha2"]) == pytest.approx(0.8)
    module = library.get("xielu", alpha=params["alpha"] + 0.3)  # another start: α_p = softplus(raw)
    torch.testing.assert_close(module.double()(X), xielu_torch(X, alpha_p=softplus(params["alpha"] + 0.3)),
                               atol=1e-6, rtol=1e-7)
    module = library.get("xielu")
    module(torch.linspace(-3, 3, 50)).pow(2).sum().backward()
    grads = [p.grad for p in module.parameters()]
    assert len(grads) == 2 and all(g is not None and float(g.abs()) > 0 for g in grads)
