"""Search spaces of core units b(u1(x1), u2(x2)), after Ramachandran, Zoph & Le (2017).

A candidate is a tuple of 1 to 3 units; a unit is five integers ``(b, i1, i2, u1, u2)``: the binary
primitive, the two unary inputs (0 is ``x``, j + 1 is unit j's output), and the two unary
primitives. The candidate's output is its last unit. The same five integers per unit, flattened,
are the token sequence the RL controller emits. A candidate becomes expression-language text by
filling the primitives' templates; when it holds several learnable constants they are renamed
``beta, beta2, beta3 ...`` (in order of appearance) so that each is an independent parameter.

A space is a TOML file (or a built-in preset, ``PRESETS``; read by :mod:`actsearch.search.space.files`)::

    description = "..."
    units = 2                  # number of core units, 1 to 3
    unary = "all"              # or a list of names from grammar.primitives.UNARY
    binary = ["add", "mul"]    # or "all"
    gated = false              # every unit is b(x_i, u(x_j)) or b(u(x_i), x_j)
    chain = false              # every later unit takes the previous unit's output as an input
    [primitives]               # extra unary primitives, expression-language text in x
    gauss2 = "exp(-2 * x^2)"

``base = "gelu"`` (and ``beta``, the perturbation's initial value, default 0) makes a space of small
learnable perturbations of that function (:mod:`actsearch.search.space.around`; the presets
``around:gelu``, ``around:swish``).

Candidates are numbered in mixed radix (the last unit varies fastest): ``at(i)`` and ``index(c)``
convert, ``enumerate()`` walks 0 … raw_size − 1 lazily, and ``sample`` draws a uniform index.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actsearch.errors import UserError

PRESET_DIR = Path(__file__).parent / "presets"
PRESETS = ("quick", "x-gated", "paper-1", "paper-2", "around:gelu", "around:swish")
COMPONENTS = ("binary", "input 1", "input 2", "unary 1", "unary 2")
MAX_UNITS = 3

Unit = tuple[int, int, int, int, int]
Candidate = tuple[Unit, ...]


class SpaceError(UserError):
    """A bad space file or preset name, or a token sequence / candidate outside the space."""


@dataclass(frozen=True)
class Prim:
    """A primitive as the space uses it: its name and its template with ``beta`` as ``{b}``."""

    name: str
    template: str  # expression text with {0} (and {1}) placeholders and {b} for the constant
    init: float | None = None  # the constant's initial value (None: 1.0)

    def fill(self, args: tuple[str, ...], b: str) -> str:
        # grammar templates parenthesise their placeholders where precedence needs it
        return self.template.format(*args, b=b)


def _prim(name: str, template: str) -> Prim:
    return Prim(name, re.sub(r"\bbeta\b", "{b}", template))


_PLACEHOLDER = re.compile(r"__p\d+[bcd]__")
_REDUNDANT = re.compile(r"(?<![\w)])\((\w+(?:\([^()]*\))?)\)")  # "(x)", "(tanh(x))": an atom in parentheses


def _tidy(text: str) -> str:
    """Drop parentheses around atoms (names and simple calls); the meaning is unchanged."""
    while True:
        new = _REDUNDANT.sub(r"\1", text)
        if new == text:
            return text
        text = new


@dataclass
class Space:
    """A space of candidates made of ``units`` core units over the given primitive sets."""

    name: str
    unary: tuple[Prim, ...]
    binary: tuple[Prim, ...]
    units: int = 1
    gated: bool = False
    chain: bool = False
    description: str = ""
    user_primitives: dict[str, str] = field(default_factory=dict)
    base: str | None = None  # a space around this function (its unary u1 is always the base)
    beta: float | None = None  # the perturbation forms' initial β (base spaces)
    source: str | None = field(default=None, compare=False)  # the preset or TOML file it was loaded from

    def __post_init__(self) -> None:
        if not 1 <= self.units <= MAX_UNITS:
            raise SpaceError(f"units must be 1 to {MAX_UNITS}, got {self.units}")
        if not self.unary or not self.binary:
            raise SpaceError("a space needs at least one unary and one binary primitive")
        names = [p.name for p in self.unary]
        if self.gated and "x" not in names:
            raise SpaceError("gated spaces need the identity unary 'x'")
        ident = names.index("x") if "x" in names else -1
        n_u = len(self.unary)
        # Allowed (u1, u2) pairs and, per unit, allowed (i1, i2) input pairs.
        self._upairs = [(a, b) for a in range(n_u) for b in range(n_u) if not self.gated or ident in (a, b)]
        if self.base is not None:
            if self.units != 1 or self.gated or self.chain or self.base not in names:
                raise SpaceError(f"a space around {self.base} has one unit, ungated, with the base as a unary")
            fixed = names.index(self.base)
            self._upairs = [(fixed, b) for b in range(n_u) if b != fixed]
        self._ipairs = []
        for k in range(self.units):
            pairs = [(a, b) for a in range(k + 1) for b in range(k + 1) if not (self.chain and k and k not in (a, b))]
            self._ipairs.append(pairs)
        self._uindex = {p: j for j, p in enumerate(self._upairs)}
        self._iindex = [{p: j for j, p in enumerate(pairs)} for pairs in self._ipairs]
        self._unit_sizes = [len(self.binary) * len(self._upairs) * len(q) for q in self._ipairs]

    # -- size, numbering, enumeration ------------------------------------------------------------
    @property
    def raw_size(self) -> int:
        """Number of raw candidates (before deduplication)."""
        size = 1
        for s in self._unit_sizes:
            size *= s
        return size

    def _unit_at(self, k: int, i: int) -> Unit:
        i, up = divmod(i, len(self._upairs))
        b, ip = divmod(i, len(self._ipairs[k]))
        i1, i2 = self._ipairs[k][ip]
        u1, u2 = self._upairs[up]
        return (b, i1, i2, u1, u2)

    def _unit_index(self, k: int, unit: Unit) -> int:
        b, i1, i2, u1, u2 = unit
        ip, up = self._iindex[k].get((i1, i2)), self._uindex.get((u1, u2))
        if not 0 <= b < len(self.binary) or ip is None or up is None:
            raise SpaceError(f"unit {k + 1} {unit} is not in space {self.name!r}")
        return (b * len(self._ipairs[k]) + ip) * len(self._upairs) + up

    def at(self, index: int) -> Candidate:
        """The candidate numbered ``index`` (0 ≤ index < raw_size); the last unit varies fastest."""
        if not 0 <= index < self.raw_size:
            raise IndexError(index)
        units = []
        for k in reversed(range(self.units)):
            index, i = divmod(index, self._unit_sizes[k])
            units.append(self._unit_at(k, i))
        return tuple(reversed(units))

    def index(self, cand: Candidate) -> int:
        """Inverse of ``at``; raises SpaceError for a candidate outside the space."""
        if len(cand) != self.units:
            raise SpaceError(f"space {self.name!r} has {self.units} units, candidate has {len(cand)}")
        out = 0
        for k, unit in enumerate(cand):
            out = out * self._unit_sizes[k] + self._unit_index(k, tuple(unit))
        return out

    def contains(self, cand: Candidate) -> bool:
        try:
            self.index(cand)
        except SpaceError:
            return False
        return True

    def enumerate(self) -> Iterator[Candidate]:
        """Every raw candidate, lazily, in the fixed order of ``at``."""
        per_unit = [[self._unit_at(k, i) for i in range(s)] for k, s in enumerate(self._unit_sizes)]
        return itertools.product(*per_unit)

    def sample(self, rng: Any) -> Candidate:
        """A uniform sample; ``rng`` is a ``random.Random``."""
        return self.at(rng.randrange(self.raw_size))

    def mutate(self, cand: Candidate, rng: Any, tries: int = 100) -> Candidate:
        """A different candidate that differs from ``cand`` in exactly one component of one unit."""
        for _ in range(tries):
            k, c = rng.randrange(self.units), rng.randrange(5)
            options = [v for v in range(self.vocab(k * 5 + c)) if v != cand[k][c]]
            rng.shuffle(options)
            for v in options:
                unit = list(cand[k])
                unit[c] = v
                new = cand[:k] + (tuple(unit),) + cand[k + 1 :]
                if self.contains(new):
                    return new
        return self.sample(rng)  # a space with a single candidate per unit

    # -- tokens (the controller's view) ----------------------------------------------------------
    @property
    def n_tokens(self) -> int:
        return 5 * self.units

    def vocab(self, position: int) -> int:
        """Number of token values at ``position`` (binary, input 1, input 2, unary 1, unary 2 …)."""
        k, c = divmod(position, 5)
        return (len(self.binary), k + 1, k + 1, len(self.unary), len(self.unary))[c]

    def valid_next(self, prefix: list[int]) -> list[int]:
        """Token values allowed after ``prefix`` (the controller masks the others)."""
        return list(self.next_counts(prefix))

    def next_counts(self, prefix: list[int]) -> dict[int, int]:
        """Allowed token values after ``prefix``, each with its number of completions in its unit.

        Sampling each token in proportion to these counts draws candidates uniformly, which is
        how the controller starts (a gated unit has 25 completions after u1 = x, 1 after u1 = sin).
        """
        k, c = divmod(len(prefix), 5)
        if c == 0:
            return {v: 1 for v in range(len(self.binary))}
        pairs = self._ipairs[k] if c in (1, 2) else self._upairs
        counts: dict[int, int] = {}
        if c in (1, 3):
            for a, _ in pairs:
                counts[a] = counts.get(a, 0) + 1
        else:
            for a, b in pairs:
                if a == prefix[-1]:
                    counts[b] = 1
        return dict(sorted(counts.items()))

    def to_tokens(self, cand: Candidate) -> list[int]:
        return [t for unit in cand for t in unit]

    def from_tokens(self, tokens: list[int]) -> Candidate:
        if len(tokens) != self.n_tokens:
            raise SpaceError(f"space {self.name!r} takes {self.n_tokens} tokens, got {len(tokens)}")
        cand = tuple(tuple(int(t) for t in tokens[i : i + 5]) for i in range(0, len(tokens), 5))
        self.index(cand)  # validates
        return cand  # type: ignore[return-value]

    # -- text ------------------------------------------------------------------------------------
    def to_text(self, cand: Candidate) -> tuple[str, dict[str, float]]:
        """Expression-language text and initial parameters (``beta``, ``beta2`` …: 1.0, or the
        primitive's own ``init``, e.g. an around space's perturbation β)."""
        outs: list[str] = []
        inits: dict[str, float | None] = {}
        for k, (b, i1, i2, u1, u2) in enumerate(cand):
            ins = ["x", *outs]
            a = self.unary[u1].fill((ins[i1], ""), b=f"__p{k}c__")
            c = self.unary[u2].fill((ins[i2], ""), b=f"__p{k}d__")
            outs.append(self.binary[b].fill((a, c), b=f"__p{k}b__"))
            inits |= {f"__p{k}c__": self.unary[u1].init, f"__p{k}d__": self.unary[u2].init,
                      f"__p{k}b__": self.binary[b].init}
        names: dict[str, str] = {}
        for ph in _PLACEHOLDER.findall(outs[-1]):
            names.setdefault(ph, "beta" if not names else f"beta{len(names) + 1}")
        text = _PLACEHOLDER.sub(lambda m: names[m.group(0)], _tidy(outs[-1]))
        return text, {n: 1.0 if inits[ph] is None else inits[ph] for ph, n in names.items()}

    def activation(self, cand: Candidate):  # noqa: ANN201 - an actsearch.Activation
        from actsearch.grammar import parse

        text, params = self.to_text(cand)
        return parse(text, **params)

    def candidate(self, *units: tuple[str, int, int, str, str]) -> Candidate:
        """A candidate from names: ``space.candidate(("sigmul", 0, 0, "scale", "x"))``."""
        un = [p.name for p in self.unary]
        bn = [p.name for p in self.binary]
        try:
            cand = tuple((bn.index(b), i1, i2, un.index(a), un.index(c)) for b, i1, i2, a, c in units)
        except ValueError as err:
            raise SpaceError(f"primitive not in space {self.name!r}: {err}") from None
        self.index(cand)
        return cand

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "units": self.units,
            "unary": [p.name for p in self.unary],
            "binary": [p.name for p in self.binary],
            "gated": self.gated,
            "chain": self.chain,
            "primitives": dict(self.user_primitives),
            **({"base": self.base, "beta": self.beta} if self.base is not None else {}),
            "raw": self.raw_size,
        }
