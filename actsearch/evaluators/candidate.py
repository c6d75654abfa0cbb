"""Turn whatever the caller hands an evaluator into one :class:`Candidate`.

A candidate is an :class:`~actsearch.grammar.Activation`, expression text (``"x * sigmoid(x)"``),
a library name (``"swish"``, ``"helu"``), or — for tests and custom modules — a zero-argument
callable returning an ``nn.Module`` (an ``nn.Module`` subclass such as ``torch.nn.ReLU`` works).
The evaluator needs four things from it: a label, a module factory (one fresh instance per
layer), the generalised He gain (for ``--init he-gain``) and whether it is trivial.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass
class Candidate:
    """What the training core needs to know about one activation."""

    label: str  # the expression text or name, as results show it
    factory: Callable[[], nn.Module]  # a fresh module per call
    gain: float | None = None  # generalised He gain; None = estimate numerically on demand
    invalid: str | None = None  # reason to reject before training (constant, non-finite …)
    activation: Any = None  # the grammar Activation, when there is one (its properties give the gain)

    def he_gain(self) -> float:
        """The generalised He gain: the grammar's value, else 1 / sqrt(E[f(z)²]) for z ~ N(0, 1)."""
        if self.gain is None and self.activation is not None:
            try:  # computed lazily: only --init he-gain needs it
                self.gain = float(self.activation.properties()["gain"])
            except Exception:  # properties are a convenience; fall back to the numeric estimate
                self.gain = None
        if self.gain is not None and math.isfinite(self.gain) and self.gain > 0:
            return float(self.gain)
        self.gain = estimate_gain(self.factory)
        return self.gain


def estimate_gain(factory: Callable[[], nn.Module], samples: int = 20000) -> float:
    """sqrt(1 / E[f(z)²]) over standard normal z (ReLU gives sqrt 2, identity 1); 1.0 if undefined."""
    z = torch.randn(samples, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        second = factory()(z).double().pow(2).mean().item()
    if not math.isfinite(second) or second <= 1e-12:
        return 1.0
    return min(max(1.0 / math.sqrt(second), 1e-2), 1e2)


def _from_activation(act: Any, label: str | None = None) -> Candidate:
    return Candidate(label or act.text, act.module, None, act.trivial(), act)


def as_candidate(candidate: Any, **params: float) -> Candidate:
    """A :class:`Candidate` from an Activation, text, a library name or a module factory.

    Text and library names become an Activation through :func:`actsearch.grammar.library.resolve`
    (the one home of name → Activation: a library name gets its default constants, then
    ``params``), so ``"swish"`` and its expression are the same candidate (the name is its label).
    A module-only library function (``smelu``, ``helu``) has no expression: the library's own
    module, its gain estimated numerically."""
    if isinstance(candidate, Candidate):
        return candidate
    if isinstance(candidate, str):
        from actsearch.grammar import library

        name = candidate.strip()
        if library.module_only(name):
            library.get(name, **params)  # a bad parameter is an error now, not in a worker
            return Candidate(name, lambda: library.get(name, **params))
        return _from_activation(library.resolve(candidate, params), name if name in library.NAMES else None)
    if hasattr(candidate, "module") and hasattr(candidate, "trivial"):
        return _from_activation(candidate)
    if callable(candidate):
        label = getattr(candidate, "__name__", None) or type(candidate).__name__
        return Candidate(label, candidate)
    raise TypeError(f"cannot evaluate a {type(candidate).__name__}; expected an Activation, text or a name")
