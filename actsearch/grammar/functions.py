"""The function table: every operation of the expression language, one record each.

A :class:`Function` holds everything the backends need to know about one operation — its name and
arity, its float64 numpy form (the reference the fingerprint is computed from), its sympy form,
the torch callable the compiler applies, its derivative for forward mode, the source the export
writes, and how it prints. The parser's function names, :mod:`~actsearch.grammar.nodes` (printer
and evaluator), :mod:`~actsearch.grammar.symbolic`, :mod:`~actsearch.grammar.compile`,
:mod:`~actsearch.grammar.kernels`, :mod:`~actsearch.grammar.dual` and the export printer
(``actsearch.results.codegen``) all read this table, so a new function is one new record
(``tests/grammar/test_grammar_functions.py`` checks each record's forms against each other).

The operators (``neg``, ``add`` … ``pow``) are records too; they have a symbol and a precedence
instead of a callable name. Structural rules stay with their backend: the printers' parentheses,
sympy's bounded exact arithmetic, the compiler's clamps for ``max``/``min`` with a number, and the
forward-mode rules of the binary operations.

torch, sympy and scipy are imported on first use (parsing and fingerprinting need none of them):
the forms below name them through :class:`_Module` stand-ins.
"""

from __future__ import annotations

import importlib
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

SELU_ALPHA = 1.6732632423543772  # Klambauer et al. (2017)
SELU_SCALE = 1.0507009873554805
TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)  # erf'(u) = 2/√π · exp(−u²)


class _Module:
    """A module imported on its first attribute look-up; each attribute is kept once found, so
    later look-ups cost what a module's do."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        value = getattr(importlib.import_module(self._name), attr)
        setattr(self, attr, value)
        return value


torch: Any = _Module("torch")
sp: Any = _Module("sympy")
special: Any = _Module("scipy.special")

Slope = Callable[[Any, Any], Any]  # (u, f(u)) -> f'(u), tensors


def _ones(u: Any) -> Any:
    """The incoming gradient of torch's backward kernels, applied to get a slope alone."""
    return torch.ones_like(u)


@dataclass(frozen=True)
class Function:
    """One operation of the expression language and its form in every backend.

    - ``name``: the node name (``("exp", u)``) and, unless ``symbol`` is set, the name text calls it by;
    - ``numpy``: float64 values from numpy arrays (the reference: fingerprints, properties);
    - ``sympy``: the name of a sympy function (an expression with that head prints back as this
      function) or a builder from sympy operands (the definition: sigmoid is ``1/(1 + exp(-u))``);
    - ``torch``: the callable the compiler applies, as ``namespace.name`` with namespace ``torch``,
      ``F`` (``torch.nn.functional``), ``kernels`` (:mod:`actsearch.grammar.kernels`) or ``operator``;
    - ``slope``: the forward-mode rule of a unary function, f'(u) from u and f(u), the derivative
      torch's autograd applies to the same callable;
    - ``source``: the exported torch source with ``{0}``, ``{1}`` for the printed arguments (empty:
      the ``torch`` callable applied to them); ``operand``: the precedence an argument needs when it
      is an operand in ``source`` rather than a call argument (sinc's ``{0} / math.pi``);
    - ``opaque``: kept as an undefined sympy function by the canonical form, which expands around it;
    - ``kernel``: for torch's own activation of this name, the expression text it computes (a tree
      with that fingerprint compiles to the kernel);
    - ``symbol``, ``precedence``: an operator's symbol in the language (``^`` for pow, prefix ``-``
      for neg) and how tightly it binds, the same in the language and in Python.
    """

    name: str
    arity: int
    numpy: Callable[..., Any]
    sympy: str | Callable[..., Any]
    torch: str
    slope: Slope | None = None
    source: str = ""
    operand: int | None = None
    opaque: bool = False
    kernel: str | None = None
    symbol: str | None = None
    precedence: int | None = None

    @property
    def named(self) -> bool:
        """Whether text calls it by name (``exp(x)``), rather than with an operator symbol."""
        return self.symbol is None

    @property
    def export(self) -> str:
        """The exported torch source template (``{0}``, ``{1}``: the printed arguments)."""
        if self.source:
            return self.source
        return f"{self.torch}({', '.join(f'{{{i}}}' for i in range(self.arity))})"


def _unary(name: str, numpy: Callable[..., Any], sympy: str | Callable[..., Any], torch_name: str,
           slope: Slope, **extra: Any) -> Function:
    return Function(name, 1, numpy, sympy, torch_name, slope, **extra)


def _binary(name: str, numpy: Callable[..., Any], sympy: str | Callable[..., Any], torch_name: str,
            **extra: Any) -> Function:
    return Function(name, 2, numpy, sympy, torch_name, **extra)


_SELU_TEXT = f"{SELU_SCALE!r} * (max(x, 0) + {SELU_ALPHA!r} * (exp(min(x, 0)) - 1))"

TABLE: tuple[Function, ...] = (
    _unary("neg", np.negative, operator.neg, "torch.neg", lambda u, v: torch.full_like(u, -1.0),
           source="-{0}", operand=4, symbol="-", precedence=3),
    _unary("abs", np.abs, "Abs", "torch.abs", lambda u, v: torch.sgn(u)),
    _unary("exp", np.exp, "exp", "torch.exp", lambda u, v: v),
    _unary("log", np.log, "log", "torch.log", lambda u, v: torch.reciprocal(u)),
    _unary("sqrt", np.sqrt, "sqrt", "torch.sqrt", lambda u, v: 0.5 / v),
    _unary("sin", np.sin, "sin", "torch.sin", lambda u, v: torch.cos(u)),
    _unary("cos", np.cos, "cos", "torch.cos", lambda u, v: -torch.sin(u)),
    _unary("sinh", np.sinh, "sinh", "torch.sinh", lambda u, v: torch.cosh(u)),
    _unary("cosh", np.cosh, "cosh", "torch.cosh", lambda u, v: torch.sinh(u)),
    _unary("tanh", np.tanh, "tanh", "torch.tanh", lambda u, v: torch.ops.aten.tanh_backward(_ones(u), v),
           kernel="tanh(x)"),
    # asinh, sinc: torch's CPU kernels are scalar code, 3-6x slower than the same function from
    # vectorised ones (kernels.py); their slopes are the backward of those forms too
    _unary("asinh", np.arcsinh, "asinh", "kernels.asinh", lambda u, v: torch.rsqrt(u * u + 1.0),
           source="torch.asinh({0})"),
    _unary("atan", np.arctan, "atan", "torch.atan", lambda u, v: 1.0 / (u * u + 1.0)),
    _unary("sinc", lambda u: np.sinc(u / np.pi), "sinc", "kernels.sinc",
           lambda u, v: torch.where(u == 0, 0.0, (torch.cos(u) - v) / u),
           source="torch.sinc({0} / math.pi)", operand=2),  # torch.sinc is normalised: sin(πu)/(πu)
    _unary("erf", lambda u: special.erf(u), "erf", "torch.erf", lambda u, v: TWO_OVER_SQRT_PI * torch.exp(-u * u)),
    _unary("sigmoid", lambda u: special.expit(u), lambda u: 1 / (1 + sp.exp(-u)), "torch.sigmoid",
           lambda u, v: torch.ops.aten.sigmoid_backward(_ones(u), v), opaque=True, kernel="sigmoid(x)"),
    _unary("softplus", lambda u: np.logaddexp(0.0, u), lambda u: sp.log(1 + sp.exp(u)), "F.softplus",
           lambda u, v: torch.ops.aten.softplus_backward(_ones(u), u, 1.0, 20.0), opaque=True,
           kernel="softplus(x)"),
    _unary("relu", lambda u: np.maximum(u, 0.0), lambda u: sp.Max(u, 0), "torch.relu",
           lambda u, v: torch.ops.aten.threshold_backward(_ones(u), v, 0), opaque=True, kernel="relu(x)"),
    # library activations usable as functions (torch's own kernels)
    _unary("gelu", lambda u: 0.5 * u * (1.0 + special.erf(u / np.sqrt(2.0))),
           lambda u: u * (1 + sp.erf(u / sp.sqrt(2))) / 2, "F.gelu",
           lambda u, v: torch.ops.aten.gelu_backward(_ones(u), u), opaque=True,
           kernel="0.5 * x * (1 + erf(x / sqrt(2)))"),
    _unary("silu", lambda u: u * special.expit(u), lambda u: u / (1 + sp.exp(-u)), "F.silu",
           lambda u, v: torch.ops.aten.silu_backward(_ones(u), u), opaque=True, kernel="x * sigmoid(x)"),
    _unary("elu", lambda u: np.where(u > 0, u, np.expm1(np.minimum(u, 0.0))),
           lambda u: sp.Max(u, 0) + sp.exp(sp.Min(u, 0)) - 1, "F.elu",
           lambda u, v: torch.ops.aten.elu_backward(_ones(u), 1.0, 1.0, 1.0, False, u), opaque=True,
           kernel="max(x, 0) + exp(min(x, 0)) - 1"),
    _unary("selu", lambda u: SELU_SCALE * np.where(u > 0, u, SELU_ALPHA * np.expm1(np.minimum(u, 0.0))),
           lambda u: sp.Float(SELU_SCALE, 17) * (sp.Max(u, 0) + sp.Float(SELU_ALPHA, 17) * (sp.exp(sp.Min(u, 0)) - 1)),
           "torch.selu", lambda u, v: torch.ops.aten.elu_backward(_ones(u), SELU_ALPHA, SELU_SCALE, 1.0, False, u),
           opaque=True, kernel=_SELU_TEXT),
    # not a native kernel: torch 2.13's CPU F.mish forward+backward measured ~1.1x slower than the
    # composed x*tanh(softplus(x)) (see compile.py)
    _unary("mish", lambda u: u * np.tanh(np.logaddexp(0.0, u)), lambda u: u * sp.tanh(sp.log(1 + sp.exp(u))),
           "F.mish", lambda u, v: torch.ops.aten.mish_backward(_ones(u), u), opaque=True),
    _unary("softsign", lambda u: u / (1.0 + np.abs(u)), lambda u: u / (1 + sp.Abs(u)), "F.softsign",
           lambda u, v: 1.0 / (1.0 + torch.abs(u)) ** 2, opaque=True),
    _binary("max", np.maximum, "Max", "torch.maximum"),
    _binary("min", np.minimum, "Min", "torch.minimum"),
    _binary("add", np.add, operator.add, "operator.add", source="{0} + {1}", symbol="+", precedence=1),
    _binary("sub", np.subtract, operator.sub, "operator.sub", source="{0} - {1}", symbol="-", precedence=1),
    _binary("mul", np.multiply, operator.mul, "operator.mul", source="{0} * {1}", symbol="*", precedence=2),
    _binary("div", np.divide, operator.truediv, "operator.truediv", source="{0} / {1}", symbol="/", precedence=2),
    _binary("pow", np.power, operator.pow, "operator.pow", source="{0} ** {1}", symbol="^", precedence=4),
)  # fmt: skip

FUNCTIONS: dict[str, Function] = {f.name: f for f in TABLE}  # every operation, by node name
CALLS: dict[str, int] = {f.name: f.arity for f in TABLE if f.named}  # names text calls, with their arity
OPERATORS: dict[str, str] = {f.name: f.symbol for f in TABLE if f.symbol and f.arity == 2}  # infix symbols
PRECEDENCE: dict[str, int] = {f.name: f.precedence for f in TABLE if f.precedence is not None}
