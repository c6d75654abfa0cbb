"""Primitives whose torch CPU kernel is slow, computed from fast ones.

torch's CPU ``asinh`` and ``sinc`` are scalar code: on a (1, 128, 100) float32 tensor, a hidden
layer of the default task, they took 246 and 89 µs against 8 µs for ``exp`` and 13 µs for ``sin``
(one thread, idle; ``python benchmarks/bench_kernels.py``); computed as below, 111 and 47 µs.

:func:`asinh` is sign(u)·log1p(|u| + u²/(1 + √(u² + 1))): log1p keeps the relative accuracy near 0
and the odd extension avoids the cancellation of log(u + √(u² + 1)) for u < 0; above 1e18 it is
log(2|u|), so nothing overflows; ±∞, ±0 and NaN map to themselves. On normal floats it is within
1.2e-7 relative of float64's asinh, as torch's own is. :func:`sinc` (the language's sinc is
sin(u)/u, 1 at 0) is sin(u)/u by torch's vectorised ``sin`` rather than ``torch.sinc(u / π)``.

Their derivatives are the ``slope`` of each function's record in
:mod:`actsearch.grammar.functions`, the one home of these two rules: autograd's formula for
``torch.asinh``, and (cos u − sinc u)/u, 0 at 0, for sinc. Autograd uses them as the backward of
each function here and :mod:`actsearch.grammar.dual` as its forward-mode rule, so the two
differentiations agree (``tests/grammar/test_kernels.py``); where nothing is recorded (the
batched trainer's forward mode) the autograd node is skipped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from actsearch.grammar.functions import FUNCTIONS, Slope

LN2 = math.log(2.0)
BIG = 1e18  # above it asinh(a) = log(2a) to float precision (and a² would overflow float32 from ~1.8e19)


def _asinh_value(u: torch.Tensor) -> torch.Tensor:
    a = torch.abs(u)
    v = torch.log1p(a + a * a / (torch.sqrt(a * a + 1.0) + 1.0))
    return torch.copysign(torch.where(a > BIG, torch.log(a) + LN2, v), u)


def _sinc_value(u: torch.Tensor) -> torch.Tensor:
    return torch.where(u == 0, 1.0, torch.sin(u) / u)


def _primitive(name: str, value: Callable[[torch.Tensor], torch.Tensor], slope: Slope,
               ) -> Callable[[torch.Tensor], torch.Tensor]:
    """The elementwise function ``value`` with the derivative ``slope(u, value(u))``: an autograd
    Function where a graph is recorded, ``value`` alone where none is."""

    def forward(u: torch.Tensor) -> torch.Tensor:
        return value(u)

    def setup_context(ctx: Any, inputs: tuple[torch.Tensor], output: torch.Tensor) -> None:
        ctx.save_for_backward(inputs[0], output)

    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        u, v = ctx.saved_tensors
        return grad * slope(u, v)

    fn = type(f"_{name}", (torch.autograd.Function,), {
        "generate_vmap_rule": True,  # torch.func (stacked networks) vmaps forward and backward as written
        "forward": staticmethod(forward), "setup_context": staticmethod(setup_context),
        "backward": staticmethod(backward)})

    def apply(u: torch.Tensor) -> torch.Tensor:
        return fn.apply(u) if torch.is_grad_enabled() else value(u)

    apply.__name__ = apply.__qualname__ = name
    apply.__doc__ = f"{name}(u) from vectorised kernels, differentiated as torch's own is."
    return apply


def _slope(name: str) -> Slope:
    slope = FUNCTIONS[name].slope
    assert slope is not None  # every unary record has one
    return slope


asinh = _primitive("asinh", _asinh_value, _slope("asinh"))
sinc = _primitive("sinc", _sinc_value, _slope("sinc"))
