"""Spaces around a known activation f: small learnable perturbations of GELU, SiLU/Swish, ...

A space file with ``base = "gelu"`` (any one-argument function of the expression language) is a
one-unit space whose first unary is f itself and whose second, u, runs over the space's unary
primitives; the unit's "binary" is one of three perturbation forms or one of the space's binary
primitives::

    plus    f(x) + β·u(x)
    times   f(x)·(1 + β·u(x))
    inner   f(x + β·u(x))
    b       b(f(x), u(x)) for each binary primitive b (add, mul, max, sigmul, mix ...)

β is learnable and starts at the file's ``beta`` (:data:`DEFAULT_BETA`, 0, when absent), so every
perturbation form starts as f exactly and the network moves β where it helps (β → 0: f); the
binaries' and unaries' own constants start at 1 as in every space (``mix`` then starts at f too).
Start 0 was measured against 0.1, the value the AlphaEvolve find GELU + 0.1·sin uses
(``benchmarks/bench_beta_init.py``: on 6 members × 2 networks, 5 seeds paired, Holm, no pair was
better from 0.1 and 4 were worse). ``around:gelu`` and ``around:swish`` (base ``silu``: Swish at β = 1) are presets that add
the normalised sinc, sinc(πx), to the 25 unary primitives, so that both 2026 AlphaEvolve finds,
GELU(x) + 0.1·sin(x) and GELU(x)·(1 + 0.5·sinc(πx)), are members (at β = 0.1 and 0.5).
"""

from __future__ import annotations

from typing import Any

DEFAULT_BETA = 0.0
# The perturbation forms, as templates over {0} = f(x), {1} = u(x) and {b} = the form's constant;
# "inner" is filled with the base's name (a one-unit space: the unit's input is x).
FORMS = {"plus": "{0} + {b} * ({1})", "times": "({0}) * (1 + {b} * ({1}))", "inner": "{f}(x + {{b}} * ({{1}}))"}


def bases() -> tuple[str, ...]:
    """The functions a space can be built around: the language's one-argument functions."""
    from actsearch.grammar.functions import CALLS

    return tuple(sorted(name for name, arity in CALLS.items() if arity == 1))


def check(base: Any, beta: Any, data: dict[str, Any]) -> tuple[str, float]:
    """The base's name and β's initial value, or a one-line :class:`SpaceError`."""
    from actsearch.grammar.activation import MAX_PARAM
    from actsearch.search.space.core import SpaceError

    if not isinstance(base, str) or base not in bases():
        raise SpaceError(f"base must be one of the language's one-argument functions ({', '.join(bases())}), "
                         f"got {base!r}")
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not abs(beta) <= MAX_PARAM:
        raise SpaceError(f"beta (the perturbation's initial value) must be a finite number, got {beta!r}")
    bad = [k for k in ("gated", "chain") if data.get(k)]
    if bad or data.get("units", 1) != 1:
        raise SpaceError(f"a space around {base} has one unit and is neither gated nor chained")
    if base in (data.get("primitives") or {}):
        raise SpaceError(f"primitive {base!r} is the space's base; name it otherwise")
    return base, float(beta)


def extend(unary: list[Any], binary: list[Any], base: str, beta: float) -> tuple[list[Any], list[Any]]:
    """The space's unaries with f last, and its binaries after the three forms (whose β starts at ``beta``)."""
    from actsearch.search.space.core import Prim

    forms = [Prim(name, template.format(f=base) if name == "inner" else template, init=beta)
             for name, template in FORMS.items()]
    return [*unary, Prim(base, f"{base}({{0}})")], [*forms, *binary]
