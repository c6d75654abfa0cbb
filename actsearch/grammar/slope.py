"""Values and first derivatives of an elementwise activation module, by autograd.

The one place that differentiates a compiled activation for shape checks, features and plots. A
function that does not depend on ``x`` (``sqrt(-1)``, ``1/0``) has no autograd graph: its slope is
zero, and a scalar result is broadcast to the input's shape.
"""

from __future__ import annotations

from typing import Any


def value_and_slope(module: Any, x: Any) -> tuple[Any, Any]:
    """``(f(x), f'(x))`` as detached tensors of ``x``'s shape and dtype."""
    import torch

    x = x.detach().clone().requires_grad_(True)
    y = module(x)
    if not isinstance(y, torch.Tensor):
        y = torch.full_like(x, float(y))
    if y.shape != x.shape:
        y = y.expand_as(x)
    g = None
    if y.requires_grad:
        (g,) = torch.autograd.grad(y.sum(), x, allow_unused=True)
    if g is None:
        g = torch.zeros_like(x)
    return y.detach(), g.detach()
