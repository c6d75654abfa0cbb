"""Named activation functions from the literature: ``get(name, **params) -> nn.Module``.

Most are expressions in the language (the 2026 AlphaEvolve finds ``gelu-sine`` and ``gelu-sinc``
use the language's library functions: ``gelu(x) + 0.1 * sin(x)``; the newer baselines ``golu``,
``relu2`` and ``xielu`` are expressions too) (``expression(name)`` gives the text, ``defaults(name)``
the initial values of their learnable constants) and are compiled like any candidate, so a
search result and a library function go through the same code. Two need more than an
expression: ``smelu`` (a piecewise definition with a width hyper-parameter) and ``helu`` (a
different backward pass, a custom ``autograd.Function``). Each entry cites its source.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from actsearch.errors import UserError, shorten
from actsearch.grammar.functions import SELU_ALPHA, SELU_SCALE


class LibraryError(UserError):
    """Unknown library name or parameter."""


def relu() -> str:
    """ReLU, max(x, 0). Nair & Hinton (2010), "Rectified linear units improve restricted
    Boltzmann machines", ICML."""
    return "relu(x)"


def prelu() -> str:
    """PReLU with a learnable negative slope α (init 0.25). He, Zhang, Ren & Sun (2015),
    "Delving deep into rectifiers", ICCV."""
    return "max(x, 0) + alpha * min(x, 0)"


def gelu() -> str:
    """GELU, x·Φ(x) (exact erf form). Hendrycks & Gimpel (2016), "Gaussian error linear
    units (GELUs)", arXiv:1606.08415."""
    return "0.5 * x * (1 + erf(x / sqrt(2)))"


def swish() -> str:
    """Swish, x·σ(βx) with learnable β (init 1). Ramachandran, Zoph & Le (2017), "Searching
    for activation functions", arXiv:1710.05941."""
    return "x * sigmoid(beta * x)"


def silu() -> str:
    """SiLU, x·σ(x). Elfwing, Uchibe & Doya (2018), "Sigmoid-weighted linear units for neural
    network function approximation in reinforcement learning", Neural Networks 107."""
    return "x * sigmoid(x)"


def mish() -> str:
    """Mish, x·tanh(softplus(x)). Misra (2019), "Mish: a self regularized non-monotonic
    activation function", arXiv:1908.08681."""
    return "x * tanh(softplus(x))"


def elu() -> str:
    """ELU with α = 1: x for x > 0, exp(x) − 1 otherwise. Clevert, Unterthiner & Hochreiter
    (2016), "Fast and accurate deep network learning by exponential linear units", ICLR."""
    return "max(x, 0) + exp(min(x, 0)) - 1"


def selu() -> str:
    """SELU, λ·ELU_α(x) with the self-normalising constants. Klambauer, Unterthiner, Mayr &
    Hochreiter (2017), "Self-normalizing neural networks", NeurIPS."""
    return f"{SELU_SCALE!r} * (max(x, 0) + {SELU_ALPHA!r} * (exp(min(x, 0)) - 1))"


def softplus() -> str:
    """Softplus, log(1 + eˣ). Dugas, Bengio, Bélisle, Nadeau & Garcia (2001), "Incorporating
    second-order functional knowledge for better option pricing", NeurIPS."""
    return "softplus(x)"


def tanh() -> str:
    """Hyperbolic tangent. LeCun, Bottou, Orr & Müller (1998), "Efficient backprop"."""
    return "tanh(x)"


def sigmoid() -> str:
    """Logistic sigmoid, 1/(1 + e⁻ˣ). Rumelhart, Hinton & Williams (1986), "Learning
    representations by back-propagating errors", Nature 323."""
    return "sigmoid(x)"


def gelu_sine() -> str:
    """GELU-Sine, GELU(x) + 0.1·sin(x), found by AlphaEvolve with out-of-distribution loss as the
    fitness. Vitvitskyi, Boratko, Grcic, Pascanu, Shah & Veličković (2026), "Mining generalizable
    activation functions", arXiv:2602.05688."""
    return "gelu(x) + 0.1 * sin(x)"


def gelu_sinc() -> str:
    """GELU-Sinc-Perturbation, GELU(x)·(1 + 0.5·sinc(x)) with the normalised sinc(x) =
    sin(πx)/(πx), as the study's published code writes it (``gelu(x) * (1 + 0.5 * jnp.sinc(x))``;
    ``jnp.sinc`` is the normalised one); the language's ``sinc`` is the unnormalised sin(x)/x, so
    the expression scales its argument by π. ``gelu-sinc-unnorm`` is the unnormalised reading.
    Vitvitskyi, Boratko, Grcic, Pascanu, Shah & Veličković (2026), "Mining generalizable
    activation functions", arXiv:2602.05688."""
    return f"gelu(x) * (1 + 0.5 * sinc({math.pi!r} * x))"


def gelu_sinc_unnorm() -> str:
    """GELU(x)·(1 + 0.5·sin(x)/x): GELU-Sinc read with the unnormalised sinc (the library's
    ``gelu-sinc`` before 2026-12; kept as a named variant). After Vitvitskyi et al. (2026),
    arXiv:2602.05688."""
    return "gelu(x) * (1 + 0.5 * sinc(x))"


def golu() -> str:
    """GoLU, x·exp(−exp(−x)): the input gated by the Gompertz function. Das, Kumar, Joshi &
    Mahmood (2025), "Gompertz linear units: leveraging asymmetry for enhanced learning dynamics",
    NeurIPS, arXiv:2502.03654."""
    return "x * exp(-exp(-x))"


def relu2() -> str:
    """ReLU², max(x, 0)²: Primer's searched activation. So, Mańke, Liu, Dai, Shazeer & Le (2021),
    "Primer: searching for efficient transformers for language modeling", NeurIPS,
    arXiv:2109.08668."""
    return "max(x, 0)^2"


# xIELU's constants as its paper and reference code set them: beta fixed, the two learnable
# coefficients kept positive through softplus (alpha_n additionally above beta), initial 0.8 each.
XIELU_BETA = 0.5
XIELU_ALPHA_INIT = 0.8


def xielu() -> str:
    """xIELU, a trainable integral of ELU: α_p·x² + β·x for x > 0 and α_n·(eˣ − 1 − x) + β·x for
    x ≤ 0, with β = 0.5, α_p = softplus(``alpha``) and α_n = β + softplus(``alpha2``), both 0.8 at
    the start (``alpha`` and ``alpha2`` start at softplus⁻¹ of 0.8 and of 0.3). The reference code
    clamps the negative branch's exponent at −1e-6 for stability; min(x, 0) here differs from it
    only on (−1e-6, 0], by under α_n·1e-6. Huang & Schlag (2025), "Deriving activation functions
    using integration", arXiv:2411.13010."""
    b = XIELU_BETA
    return (f"softplus(alpha) * max(x, 0)^2 + ({b!r} + softplus(alpha2)) * (exp(min(x, 0)) - 1 - min(x, 0)) "
            f"+ {b!r} * x")


def _softplus_inverse(y: float) -> float:
    return math.log(math.expm1(y))


class SmeLU(nn.Module):
    """Smooth ReLU: 0 for x ≤ −β, (x + β)²/(4β) for |x| ≤ β, x for x ≥ β (β: half-width, a
    fixed hyper-parameter). Shamir, Lin, Coviello & Dabney (2020), "Smooth activations and
    reproducibility in deep networks", arXiv:2010.09931."""

    def __init__(self, beta: float = 1.0) -> None:
        super().__init__()
        if not beta > 0:
            raise LibraryError(f"smelu needs beta > 0, got {beta}")
        self.beta = float(beta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply SmeLU elementwise."""
        b = self.beta
        quad = (x + b) ** 2 / (4 * b)
        return torch.where(x >= b, x, torch.where(x <= -b, torch.zeros_like(x), quad))

    def extra_repr(self) -> str:
        """Show the width."""
        return f"beta={self.beta}"


class _HeLUFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, alpha: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return torch.relu(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (x,) = ctx.saved_tensors
        return grad * (x > -ctx.alpha).to(grad.dtype), None


class HeLU(nn.Module):
    """Hysteresis ReLU: ReLU in the forward pass; the backward pass lets the gradient through
    for x > −α (not only x > 0), so units just below zero still learn. Kimhi, Kashani,
    Mendelson & Baskin (2024), "Hysteresis activation function for efficient inference",
    arXiv:2411.10573. α is a hyper-parameter (default 0.05 here)."""

    def __init__(self, alpha: float = 0.05) -> None:
        super().__init__()
        if not alpha >= 0:
            raise LibraryError(f"helu needs alpha >= 0, got {alpha}")
        self.alpha = float(alpha)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ReLU forward with the hysteresis backward."""
        return _HeLUFunction.apply(x, self.alpha)

    def extra_repr(self) -> str:
        """Show the threshold."""
        return f"alpha={self.alpha}"


_EXPRESSIONS = {
    f.__name__: f for f in (relu, prelu, gelu, swish, silu, mish, elu, selu, softplus, tanh, sigmoid)
} | {"gelu-sine": gelu_sine, "gelu-sinc": gelu_sinc, "gelu-sinc-unnorm": gelu_sinc_unnorm, "golu": golu,
     "relu2": relu2, "xielu": xielu}
_MODULES: dict[str, tuple[type[nn.Module], dict[str, float]]] = {
    "smelu": (SmeLU, {"beta": 1.0}),
    "helu": (HeLU, {"alpha": 0.05}),
}
_DEFAULTS = {"prelu": {"alpha": 0.25}, "swish": {"beta": 1.0},
             "xielu": {"alpha": _softplus_inverse(XIELU_ALPHA_INIT),
                       "alpha2": _softplus_inverse(XIELU_ALPHA_INIT - XIELU_BETA)}}
NAMES: tuple[str, ...] = (*_EXPRESSIONS, *_MODULES)


def _check(name: str) -> None:
    if name not in NAMES:
        raise LibraryError(f"unknown activation {shorten(repr(name))}; known: {', '.join(NAMES)}")


def expression(name: str) -> str | None:
    """The expression-language text of a library function, or None for module-only ones."""
    _check(name)
    return _EXPRESSIONS[name]() if name in _EXPRESSIONS else None


def defaults(name: str) -> dict[str, float]:
    """Initial values of the learnable constants (or hyper-parameters of module-only ones)."""
    _check(name)
    if name in _MODULES:
        return dict(_MODULES[name][1])
    return dict(_DEFAULTS.get(name, {}))


def citation(name: str) -> str:
    """The docstring of the entry, which names its source."""
    _check(name)
    doc = (_EXPRESSIONS[name] if name in _EXPRESSIONS else _MODULES[name][0]).__doc__ or ""
    return " ".join(doc.split())


def get(name: str, **params: float) -> nn.Module:
    """The module for a library name; ``params`` override initial values / hyper-parameters."""
    _check(name)
    known = defaults(name)
    unknown = sorted(set(params) - set(known))
    if unknown:
        allowed = ", ".join(known) or "none"
        raise LibraryError(f"{name} has no parameter {shorten(repr(unknown[0]))} (parameters: {allowed})")
    values = {**known, **{k: float(v) for k, v in params.items()}}
    if any(not math.isfinite(v) for v in values.values()):
        raise LibraryError(f"{name}: parameter values must be finite")
    if name in _MODULES:
        return _MODULES[name][0](**values)
    from actsearch.grammar.activation import parse

    return parse(expression(name), **values).module()


def module_only(name: str) -> bool:
    """Whether ``name`` is a library function with no expression form (``smelu``, ``helu``): only
    :func:`get` builds it."""
    return name.strip() in _MODULES


def resolve(text: str, params: dict[str, float] | None = None) -> Any:
    """The :class:`~actsearch.grammar.Activation` of expression text or a library name — the one
    place a name becomes an activation (evaluators, results, search and the CLI all come here): a
    name gets its expression with the library's defaults, then ``params`` (a constant the function
    lacks is a :class:`LibraryError`, as in :func:`get`); a module-only name (no expression form,
    see :func:`module_only`) is a :class:`LibraryError`."""
    from actsearch.grammar.activation import parse

    name = text.strip()
    if name in NAMES:
        expr = expression(name)
        if expr is None:
            raise LibraryError(f"'{name}' is a module-only library activation with no expression form")
        act = parse(expr, **{**defaults(name), **(params or {})})
        unknown = sorted(set(params or {}) - set(act.params))
        if unknown:
            raise LibraryError(f"{name} has no parameter {shorten(repr(unknown[0]))} "
                               f"(parameters: {', '.join(act.params) or 'none'})")
        return act
    return parse(text, **(params or {}))
