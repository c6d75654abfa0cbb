"""Parsing: the language accepts what it should, and every bad-input class is one ExpressionError."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import actsearch
from actsearch.errors import UserError
from actsearch.grammar import ExpressionError, parse
from actsearch.grammar.nodes import MAX_DEPTH, to_text
from actsearch.grammar.parse import MAX_LENGTH, parse_tree
from tests.helpers.strategies import trees


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("x", ("x",)),
        ("2", ("num", 2.0)),
        ("1e-3 * x", ("mul", ("num", 0.001), ("x",))),
        (".5", ("num", 0.5)),
        ("-x^2", ("neg", ("pow", ("x",), ("num", 2.0)))),
        ("x**2", ("pow", ("x",), ("num", 2.0))),
        ("2^x^3", ("pow", ("num", 2.0), ("pow", ("x",), ("num", 3.0)))),
        ("x ^ -1", ("pow", ("x",), ("neg", ("num", 1.0)))),
        ("x - x - x", ("sub", ("sub", ("x",), ("x",)), ("x",))),
        ("x / 2 * 3", ("mul", ("div", ("x",), ("num", 2.0)), ("num", 3.0))),
        (
            "beta2 * alpha_1 + gamma",
            ("add", ("mul", ("param", "beta2"), ("param", "alpha_1")), ("param", "gamma")),
        ),
        ("max(x, 0)", ("max", ("x",), ("num", 0.0))),
        ("+x", ("x",)),
        ("  sigmoid ( x )\n", ("sigmoid", ("x",))),
    ],
)
def test_parses_to_expected_tree(text, tree):
    assert parse_tree(text) == tree


def test_public_api_and_params():
    act = actsearch.parse("x * sigmoid(beta * x)", beta=1.5)
    assert isinstance(act, actsearch.Activation)
    assert act.params == {"beta": 1.5}
    assert parse("gamma * x + beta").params == {"gamma": 1.0, "beta": 1.0}  # order of appearance
    assert parse("x", beta=2.0).params == {}  # names absent from the text are ignored
    assert act.complexity == 3 and parse("x").complexity == 0
    assert issubclass(actsearch.ExpressionError, UserError)


@given(trees)
@settings(max_examples=150, deadline=None)
def test_printed_tree_reparses_to_the_same_tree(tree):
    assert parse_tree(to_text(tree)) == tree


BAD = [
    ("", "empty expression", 0),
    ("   ", "empty expression", 0),
    ("x +", "unexpected end of expression at column 4", 3),
    ("2x", "unexpected name 'x' at column 2", 1),
    ("x $ 2", "unexpected character '$' at column 3", 2),
    ("(x", "missing ')'", 2),
    ("x)", "unmatched ')' at column 2", 1),
    ("x,x", "unexpected symbol ',' at column 2", 1),
    ("foo(x)", "unknown function 'foo' at column 1; known: abs,", 0),
    ("x + bar", "unknown name 'bar' at column 5", 4),
    ("y", "unknown name 'y' at column 1", 0),
    ("betax", "unknown name 'betax'", 0),
    ("exp", "function 'exp' needs its argument in parentheses", 0),
    ("max(x)", "'max' takes 2 arguments, got 1 at column 1", 0),
    ("tanh(x, x)", "'tanh' takes 1 argument, got 2", 0),
    ("sin()", "'sin' takes 1 argument, got 0", 0),
    ("beta(x)", "unknown function 'beta'", 0),
    ("1e999 * x", "number '1e999' out of range", 0),
    ("__import__('os').system('ls')", "unexpected character", 11),
    ("x.__class__", "unexpected", 1),
    ("exec('1')", "unexpected character", 5),
    ("eval(x)", "unknown function 'eval'", 0),
    ("lambda: x", "unexpected character ':' at column 7", 6),
    ("x; import os", "unexpected character ';'", 1),
    ("[x]", "unexpected character '['", 0),
]


@pytest.mark.parametrize(("text", "message", "pos"), BAD)
def test_bad_input_is_one_expression_error(text, message, pos):
    with pytest.raises(ExpressionError) as info:
        parse(text)
    assert message in str(info.value)
    assert info.value.pos == pos
    assert "\n" not in str(info.value)


@pytest.mark.train
def test_deep_nesting_is_refused_without_recursion_error():
    for text in ("(" * 10_000 + "x" + ")" * 10_000, "(" * 4_000 + "x" + ")" * 4_000):
        with pytest.raises(ExpressionError, match="too long|nesting deeper"):
            parse(text)
    for text in (
        "-" * 5_000 + "x",
        "x^" * 3_000 + "x",
        "exp(" * 2_000 + "x" + ")" * 2_000,
        "x-" * 4_000 + "x",
    ):
        with pytest.raises(ExpressionError, match=f"deeper than {MAX_DEPTH}|too long"):
            parse(text)
    # long sums and products are chains, not nesting: rebuilt balanced, they parse and compile
    for n in (150, 4_000):
        act = parse("+".join(["x"] * n))
        assert act.fingerprint == parse(f"{n} * x").fingerprint
    tree = parse_tree("+".join(["x"] * 150))
    assert parse_tree(to_text(tree)) == tree  # the balanced tree, printed, parses back to itself
    assert parse("*".join(["sigmoid(x)"] * 150)).module() is not None
    # just below the bound still works end to end
    act = parse("tanh(" * (MAX_DEPTH - 1) + "x" + ")" * (MAX_DEPTH - 1))
    assert act.fingerprint and act.canonical and act.module() is not None


def test_huge_input_and_non_text():
    with pytest.raises(ExpressionError, match="too long"):
        parse("x" + " + x" * MAX_LENGTH)
    with pytest.raises(ExpressionError, match="must be text"):
        parse(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [{"bta": 1.0}, {"x": 2.0}, {"beta": float("nan")}, {"beta": "big"}])
def test_bad_initial_values(bad):
    with pytest.raises(ExpressionError):
        parse("x * beta", **bad)


@given(st.text(max_size=40))
@settings(max_examples=300, deadline=None)
def test_arbitrary_text_parses_or_raises_expression_error(text):
    try:
        act = parse(text)
    except ExpressionError as err:
        assert err.pos is None or 0 <= err.pos <= len(text)
    else:
        assert parse_tree(to_text(act.tree)) == act.tree


TOKENS = ["x", "beta", "gamma2", "2", "0.5", "1e-3", "+", "-", "*", "/", "^", "**", "(", ")", ",", "exp(",
          "max(", "sigmoid(", "relu(", "foo(", "y", "$"]  # fmt: skip


@given(st.lists(st.sampled_from(TOKENS), max_size=25).map(" ".join))
@settings(max_examples=400, deadline=None)
def test_token_soup_parses_or_raises_expression_error(text):
    try:
        act = parse(text)
    except ExpressionError as err:
        assert str(err) and (err.pos is None or 0 <= err.pos <= len(text))
    else:
        assert isinstance(act.fingerprint, str) and len(act.fingerprint) == 16
        assert parse(act.canonical).fingerprint == act.fingerprint
