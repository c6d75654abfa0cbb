"""``parse`` and :class:`Activation`: one candidate function with everything derived from it.

Parsing and the tree are eager (fast); the fingerprint, sympy expression, canonical text and
properties are computed on first use and cached. ``parse`` + ``fingerprint`` of a two-unit
candidate takes well under a millisecond (see ``benchmarks/bench_compile.py``).
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any

import numpy as np

from actsearch.errors import shorten
from actsearch.grammar import nodes
from actsearch.grammar.nodes import Node
from actsearch.grammar.parse import ExpressionError, is_param_name, parse_tree

DEFAULT_PARAM = 1.0
MAX_CHANNELS = 1 << 20  # largest per_channel count of a module's constants
MAX_PARAM = float(np.finfo(np.float32).max)  # largest initial value of a constant (float32 tensors)


def parse(text: str, **params: float) -> Activation:
    """Parse expression text into an :class:`Activation`.

    ``params`` give initial values of learnable constants (default 1.0). Names that do not occur
    in the text are ignored (one set of initial values can serve many candidates); names that
    could never be parameters raise :class:`ExpressionError`.
    """
    tree = parse_tree(text)
    return Activation(tree, _initial(tree, params), text)


def _initial(tree: Node, params: dict[str, Any]) -> dict[str, float]:
    if not isinstance(params, dict):
        raise ExpressionError(f"parameters must be a mapping of name to number, got {type(params).__name__}")
    values = {}
    for name, value in params.items():
        if not isinstance(name, str) or not is_param_name(name):
            raise ExpressionError(
                f"{shorten(name)!r} is not a parameter name (alpha, beta, gamma, beta2, alpha_1 ...)"
            )
        values[name] = param_value(name, value)
    return {n: values.get(n, DEFAULT_PARAM) for n in nodes.param_names(tree)}


def param_value(name: str, value: Any) -> float:
    """``value`` as the float initial value of constant ``name``, or :class:`ExpressionError` (one
    line): a number (not a bool) that is finite in float32, |v| <= :data:`MAX_PARAM`, since the
    compiled module holds its constants as float32 tensors."""
    if isinstance(value, bool):
        raise ExpressionError(f"initial value of '{name}' must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ExpressionError(f"initial value of '{name}' must be a number within ±{MAX_PARAM:.4g}, "
                              f"got {shorten(repr(value))}") from None
    if not math.isfinite(number) or abs(number) > MAX_PARAM:
        raise ExpressionError(f"initial value of '{name}' must be finite in float32 (|v| <= {MAX_PARAM:.4g}), "
                              f"got {shorten(repr(value))}")
    return number


class Activation:
    """A candidate activation function: text, tree, learnable constants and derived views."""

    def __init__(self, tree: Node, params: dict[str, float] | None = None, text: str | None = None) -> None:
        self.tree = tree
        self.text = text if text is not None else nodes.to_text(tree)
        self.params = _initial(tree, params or {})

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"parse({self.text!r}{extra})"

    @cached_property
    def fingerprint(self) -> str:
        """16 hex digits, equal for mathematically equal functions (see ``fingerprint.py``)."""
        from actsearch.grammar.fingerprint import fingerprint

        return fingerprint(self.tree)

    @cached_property
    def complexity(self) -> int:
        """Number of operations in the tree (x → 0, x*sigmoid(beta*x) → 3)."""
        return nodes.complexity(self.tree)

    @cached_property
    def expr(self) -> Any:
        """The sympy expression (x and the constants are real symbols)."""
        from actsearch.grammar.symbolic import to_sympy

        return to_sympy(self.tree)

    @cached_property
    def canonical(self) -> str:
        """Canonical text; ``parse(act.canonical)`` has the same fingerprint."""
        from actsearch.grammar.canonical import canonical_text

        return canonical_text(self.tree, self.fingerprint)

    def module(self, per_channel: int | None = None, *, fast: bool = True) -> Any:
        """A ``torch.nn.Module`` applying the function elementwise; learnable constants are
        ``nn.Parameter``s (scalars, or shape ``(per_channel,)`` broadcast over dim 1).
        ``fast=False`` skips torch's fused kernels (plain closures, for testing)."""
        from actsearch.grammar.compile import ActivationModule

        if per_channel is not None and (isinstance(per_channel, bool) or not isinstance(per_channel, int)
                                        or not 1 <= per_channel <= MAX_CHANNELS):
            raise ExpressionError(f"per_channel must be a channel count, an int from 1 to {MAX_CHANNELS}, "
                                  f"or None, got {shorten(repr(per_channel))}")
        return ActivationModule(self.tree, self.params, self.text, per_channel, fast)

    def __call__(self, x: Any, **params: float) -> np.ndarray:
        """float64 values at ``x`` (numpy), with the initial parameter values unless overridden."""
        values = {**self.params, **params}
        return np.asarray(nodes.evaluate(nodes.stable(self.tree), np.asarray(x, dtype=np.float64), values))

    def properties(self) -> dict[str, Any]:
        """Shape properties and the generalised He gain (see ``properties.py``)."""
        from actsearch.grammar.properties import properties

        return properties(self)

    def trivial(self) -> str | None:
        """Why the candidate is useless, or None: "non-finite" (no finite value on the probe set),
        "constant" (same value everywhere), "zero gradient" (piecewise constant)."""
        from actsearch.grammar.properties import trivial

        return trivial(self)
