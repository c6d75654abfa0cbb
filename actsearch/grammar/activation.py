"""``parse`` and :class:`Activation`: one candidate function with everything derived from it.

Parsing and the tree are eager (fast); the fingerprint, sympy expression, canonical text and
properties are computed on first use and cached. ``parse`` + ``fingerprint`` of a two-unit
candidate takes well under a millisecond (see ``benchmarks/bench_compile.py``).

Model libraries build their activations from a factory they are given (timm's ``act_layer``,
torchvision's ``activation_layer``) and call it with an in-place flag: ``act_layer()``,
``act_layer(inplace=True)``, ``act_layer(True)`` (timm's VGG), ``create_act_layer(act, inplace=...)``,
``activation_layer(inplace=...)``. :class:`LayerFactory` makes any module factory callable those
ways, and :meth:`Activation.module` takes ``inplace=``: the flag is accepted and ignored, since a
candidate returns a new tensor (nothing is computed in place). Any other argument is a TypeError
that says what is accepted.
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
# keyword arguments model libraries pass an activation-layer factory (timm's act_layer, torchvision's
# activation_layer); a candidate accepts and ignores them: it never computes in place
LAYER_FLAGS = ("inplace",)


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

    def module(self, per_channel: int | None = None, *, fast: bool = True, inplace: bool | None = None) -> Any:
        """A ``torch.nn.Module`` applying the function elementwise; learnable constants are
        ``nn.Parameter``s (scalars, or shape ``(per_channel,)`` broadcast over dim 1).
        ``fast=False`` skips torch's fused kernels (plain closures, for testing). ``inplace`` is
        accepted and ignored, so ``act_layer=act.module`` works where a model library calls
        ``act_layer(inplace=True)`` (the module never computes in place)."""
        from actsearch.grammar.compile import ActivationModule

        del inplace  # accepted for model libraries, never used
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


def check_flags(args: tuple, kwargs: dict[str, Any], who: str = "an activation layer") -> None:
    """Accept what model libraries pass an activation-layer factory — nothing, ``inplace=`` or one
    positional bool (timm's VGG: ``act_layer(True)``) — and refuse anything else (a channel count, a
    slope ...) with a TypeError naming what is accepted; timm's ``create_act_layer`` retries without
    its flag on a TypeError, as it does for any layer without ``inplace``."""
    extra = [k for k in kwargs if k not in LAYER_FLAGS]
    if extra or len(args) > 1 or (args and not isinstance(args[0], bool)):
        given = ", ".join([*(shorten(repr(a)) for a in args), *(f"{k}={shorten(repr(v))}" for k, v in kwargs.items())])
        raise TypeError(f"{who} takes no arguments but the in-place flag model libraries pass (inplace=True, "
                        f"ignored: an actsearch activation never computes in place); got {given}")


class LayerFactory:
    """A module factory that model libraries can use as their activation layer.

    ``LayerFactory(make)()`` is ``make()``; so are ``(inplace=True)``, ``(inplace=None)`` and
    ``(True)`` (the flag is ignored, see :func:`check_flags`). Each call is a fresh module."""

    __slots__ = ("make",)

    def __init__(self, make: Any) -> None:
        self.make = make.make if isinstance(make, LayerFactory) else make

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        check_flags(args, kwargs, "the activation factory")
        return self.make()

    def __repr__(self) -> str:
        return f"LayerFactory({self.make!r})"
