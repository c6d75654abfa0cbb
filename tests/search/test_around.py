"""Spaces around a known function (``around:gelu``, ``around:swish``, ``base =`` in a space file):
sizes, dedup, the AlphaEvolve finds as members, β's start, tokens, file round trip, bad forms."""

from __future__ import annotations

import math
import random

import pytest
import torch

from actsearch.grammar import library, parse
from actsearch.search.space import PRESETS, SpaceError, load_space, space_from_dict
from actsearch.search.space.around import DEFAULT_BETA
from actsearch.search.space.dedup import count_distinct
from actsearch.search.space.files import space_toml

X = torch.linspace(-6, 6, 241, dtype=torch.float64)


def _texts(space) -> dict[str, dict[str, float]]:
    return dict(space.to_text(c) for c in space.enumerate())


@pytest.mark.parametrize(("name", "base"), [("around:gelu", "gelu"), ("around:swish", "silu")])
def test_sizes_and_dedup(name: str, base: str) -> None:
    space = load_space(name)
    assert name in PRESETS and space.base == base and space.beta == DEFAULT_BETA == 0.0
    assert space.raw_size == 13 * 26  # (3 forms + 10 binaries) x (25 unaries + the normalised sinc)
    counts = count_distinct(space)
    assert counts["raw"] == 338 and counts["distinct"] == 329 and counts["invalid"] == 0
    texts = _texts(space)
    assert all(t.startswith(f"{base}(") or f"{base}(x)" in t for t in texts)  # f is in every candidate


def test_the_alphaevolve_finds_are_members_of_around_gelu() -> None:
    texts = _texts(load_space("around:gelu"))
    sine = "gelu(x) + beta * sin(x)"
    sinc = f"gelu(x) * (1 + beta * sinc({math.pi!r} * x))"
    assert texts[sine] == {"beta": 0.0} and texts[sinc] == {"beta": 0.0}
    torch.testing.assert_close(parse(sine, beta=0.1).module().double()(X), library.get("gelu-sine").double()(X))
    torch.testing.assert_close(parse(sinc, beta=0.5).module().double()(X), library.get("gelu-sinc").double()(X))


def test_perturbations_start_at_the_base_and_own_constants_at_one() -> None:
    space = load_space("around:gelu")
    texts = _texts(space)
    assert texts["gelu(x + beta * sin(x))"] == {"beta": 0.0}
    assert texts["beta * gelu(x) + (1 - beta) * x"] == {"beta": 1.0}  # mix starts at f exactly
    assert texts["gelu(x) + beta * (beta2 * x)"] == {"beta": 0.0, "beta2": 1.0}  # u's own constant
    gelu = library.get("gelu").double()(X).detach()
    for text in ("gelu(x) + beta * sin(x)", "gelu(x) * (1 + beta * tanh(x))", "gelu(x + beta * sin(x))"):
        module = parse(text, **texts[text]).module().double()
        torch.testing.assert_close(module(X).detach(), gelu)  # β = 0: GELU exactly ...
        module(X).sum().backward()
        assert float(module.beta.grad.abs()) > 0  # ... and β learns from there
        near = (parse(text, beta=0.1).module().double()(X) - gelu).abs().max().detach()
        assert 0 < float(near) < 0.7  # at 0.1: near GELU, not equal to it


def test_tokens_fix_the_first_unary_to_the_base() -> None:
    space = load_space("around:swish")
    base = [p.name for p in space.unary].index("silu")
    assert list(space.next_counts([0, 0, 0])) == [base]
    assert base not in space.next_counts([0, 0, 0, base])
    rng = random.Random(0)
    for _ in range(50):
        cand = space.mutate(space.sample(rng), rng)
        assert space.from_tokens(space.to_tokens(cand)) == cand and cand[0][3] == base


def test_a_space_file_around_a_base_round_trips_and_defaults_beta() -> None:
    space = space_from_dict({"base": "mish", "unary": ["x", "sin"], "binary": ["add"], "beta": 0.1}, name="m")
    assert space.beta == 0.1 and space.to_text(((0, 0, 0, 2, 1),)) == ("mish(x) + beta * sin(x)", {"beta": 0.1})
    space = space_from_dict({"base": "mish", "unary": ["x", "sin"], "binary": ["add"]}, name="m")
    assert space.beta == DEFAULT_BETA and space.raw_size == 4 * 2
    assert space_from_dict({"base": "gelu", "beta": 0, "unary": ["sin"], "binary": ["mul"]}).to_text(
        ((0, 0, 0, 1, 0),)) == ("gelu(x) + beta * sin(x)", {"beta": 0.0})
    back = space_toml(load_space("around:gelu"))
    assert back is not None and "base = \"gelu\"" in back and "beta = 0.0" in back


@pytest.mark.parametrize(("data", "message"), [
    ({"base": "geluu"}, "base must be one of"),
    ({"base": "max"}, "base must be one of"),  # two arguments
    ({"base": 3}, "base must be one of"),
    ({"beta": 0.2}, "base must be one of"),  # beta without a base
    ({"base": "gelu", "beta": "small"}, "beta .* must be a finite number"),
    ({"base": "gelu", "beta": float("nan")}, "beta .* must be a finite number"),
    ({"base": "gelu", "units": 2}, "one unit"),
    ({"base": "gelu", "gated": True}, "neither gated"),
    ({"base": "gelu", "primitives": {"gelu": "x"}}, "is the space's base"),
])
def test_bad_forms_are_refused_in_one_line(data: dict, message: str) -> None:
    with pytest.raises(SpaceError, match=message) as err:
        space_from_dict(data)
    assert "\n" not in str(err.value)
