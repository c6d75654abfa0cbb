"""Spaces: sizes, numbering, enumeration, sampling, mutation, tokens, text, TOML files, members."""

from __future__ import annotations

import itertools
import random
from collections import Counter

import pytest

from actsearch.errors import UserError
from actsearch.grammar import parse
from actsearch.search.space.core import PRESETS, SpaceError
from actsearch.search.space.files import load_space, space_from_dict


def test_preset_raw_sizes():
    sizes = {name: load_space(name).raw_size for name in PRESETS}
    assert sizes["paper-1"] == 10 * 25 * 25 == 6250
    assert sizes["paper-2"] == 6250 * 10 * 50 * 50  # second unit: inputs x or unit 1's output
    assert sizes["x-gated"] == 10 * (25 + 25 - 1)  # b(x, u(x)) and b(u(x), x); b(x, x) once
    assert sizes["quick"] < sizes["x-gated"]


def test_at_index_round_trip_and_lazy_enumeration_order():
    space = load_space("paper-2")
    rng = random.Random(1)
    for _ in range(300):
        i = rng.randrange(space.raw_size)
        assert space.index(space.at(i)) == i
    first = list(itertools.islice(space.enumerate(), 2000))  # lazy: the 1.6e8 are never built
    assert first == [space.at(i) for i in range(2000)]
    small = load_space("x-gated")
    assert list(small.enumerate()) == [small.at(i) for i in range(small.raw_size)]
    assert len(set(small.enumerate())) == small.raw_size


def test_sample_is_uniform_and_reproducible(tiny_space):
    rng = random.Random(0)
    counts = Counter(tiny_space.index(tiny_space.sample(rng)) for _ in range(48 * 200))
    assert len(counts) == 48
    assert max(counts.values()) < 2 * min(counts.values())
    assert [tiny_space.sample(random.Random(5)) for _ in range(3)] == [tiny_space.sample(random.Random(5))] * 3


@pytest.mark.parametrize("preset", ["x-gated", "paper-2"])
def test_mutate_changes_exactly_one_component_and_stays_in_space(preset):
    space = load_space(preset)
    rng = random.Random(3)
    for _ in range(300):
        cand = space.sample(rng)
        child = space.mutate(cand, rng)
        assert space.contains(child)
        diffs = [(k, c) for k in range(space.units) for c in range(5) if cand[k][c] != child[k][c]]
        assert len(diffs) == 1


def test_tokens_round_trip_and_masks_respect_gating():
    space = load_space("x-gated")
    ident = [p.name for p in space.unary].index("x")
    for cand in space.enumerate():
        assert space.from_tokens(space.to_tokens(cand)) == cand
    sin = [p.name for p in space.unary].index("sin")
    assert space.valid_next([0, 0, 0, sin]) == [ident]  # b(sin(x), ?) must take x as is
    assert len(space.valid_next([0, 0, 0, ident])) == len(space.unary)
    counts = space.next_counts([0, 0, 0])  # completions per u1: x has 25, any other unary 1
    assert counts[ident] == len(space.unary) and counts[sin] == 1
    assert sum(counts.values()) * len(space.binary) == space.raw_size  # so the prior is uniform
    with pytest.raises(SpaceError):
        space.from_tokens([0, 0, 0, sin, sin])
    p2 = load_space("paper-2")
    assert [p2.vocab(i) for i in range(10)] == [10, 1, 1, 25, 25, 10, 2, 2, 25, 25]


def test_every_candidate_becomes_an_activation(tiny_space):
    for cand in tiny_space.enumerate():
        text, params = tiny_space.to_text(cand)
        act = parse(text, **params)
        assert act.fingerprint


def test_several_constants_become_independent_parameters():
    space = load_space("paper-2")
    cand = space.candidate(("mix", 0, 0, "scale", "shift"), ("gaussdiff", 1, 0, "scale", "x"))
    text, params = space.to_text(cand)
    assert sorted(params) == ["beta", "beta2", "beta3", "beta4", "beta5"]
    act = parse(text, **params)
    assert set(act.params) == set(params)
    one = space.to_text(space.candidate(("sigmul", 0, 0, "scale", "x"), ("add", 1, 1, "x", "x")))
    assert one[1] == {"beta": 1.0}


PAPER_BEST_ONE_UNIT = [
    ("x * sigmoid(beta * x)", ("sigmul", 0, 0, "scale", "x")),
    ("max(x, sigmoid(x))", ("max", 0, 0, "x", "sigmoid")),
    ("cos(x) - x", ("sub", 0, 0, "cos", "x")),
    ("min(x, sin(x))", ("min", 0, 0, "x", "sin")),
    ("max(x, tanh(x))", ("max", 0, 0, "x", "tanh")),
    ("sinc(x) + x", ("add", 0, 0, "sinc", "x")),
]
PAPER_BEST_TWO_UNITS = [
    ("atan(x)^2 - x", [("mul", 0, 0, "atan", "atan"), ("sub", 1, 0, "x", "x")]),
    ("x * asinh(x)^2", [("mul", 0, 0, "asinh", "asinh"), ("mul", 0, 1, "x", "x")]),
]


@pytest.mark.parametrize("preset", ["paper-1", "x-gated"])
@pytest.mark.parametrize("target,unit", PAPER_BEST_ONE_UNIT)
def test_paper_best_one_unit_functions_are_members(preset, target, unit):
    space = load_space(preset)
    cand = space.candidate(unit)
    text, params = space.to_text(cand)
    assert parse(text, **params).fingerprint == parse(target).fingerprint


@pytest.mark.parametrize("target,units", PAPER_BEST_TWO_UNITS)
def test_paper_best_two_unit_functions_are_members(target, units):
    space = load_space("paper-2")
    text, params = space.to_text(space.candidate(*units))
    assert parse(text, **params).fingerprint == parse(target).fingerprint


def test_toml_space_with_user_primitive_and_chain(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        'units = 2\nunary = ["x", "tanh"]\nbinary = ["add", "mul"]\nchain = true\n'
        '[primitives]\ngauss2 = "exp(-2 * x^2)"\n'
    )
    space = load_space(path)
    assert [p.name for p in space.unary] == ["x", "tanh", "gauss2"]
    # unit 2 must use unit 1's output: input pairs (0,1), (1,0), (1,1)
    assert space.raw_size == (2 * 3 * 3) * (2 * 3 * 3 * 3)
    cand = space.candidate(("mul", 0, 0, "x", "gauss2"), ("add", 1, 0, "x", "tanh"))
    text, params = space.to_text(cand)
    assert parse(text).fingerprint == parse("x * exp(-2 * x^2) + tanh(x)").fingerprint
    assert not space.contains(((0, 0, 0, 0, 0), (0, 0, 0, 0, 0)))  # unit 2 ignores unit 1


@pytest.mark.parametrize(
    "text,message",
    [
        ("units = 4", "units must be 1 to 3"),
        ('unary = ["x", "nope"]', "unknown unary primitive"),
        ("colour = 1", "unknown key"),
        ("units = [", "bad TOML"),
        ('unary = ["tanh"]\ngated = true', "identity"),
        ('[primitives]\nbad = "x +"', "primitive 'bad'"),
    ],
)
def test_bad_space_files_are_user_errors(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text + "\n")
    with pytest.raises(UserError, match=message):
        load_space(path)


def test_unknown_preset_lists_presets():
    with pytest.raises(SpaceError, match="x-gated"):
        load_space("no-such-space")


def test_space_from_dict_validates_candidates(tiny_space):
    with pytest.raises(SpaceError):
        tiny_space.candidate(("mul", 0, 0, "x", "x"))
    with pytest.raises(SpaceError):
        tiny_space.index(((0, 1, 0, 0, 0),))  # input 1 of unit 1 can only be x
    assert space_from_dict({"units": 3, "unary": ["x"], "binary": ["add"]}).raw_size == 1 * 4 * 9
