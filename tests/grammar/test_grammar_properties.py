"""Properties and the generalised He gain, checked against closed forms."""

from __future__ import annotations

import math

import pytest

from actsearch.grammar import parse
from actsearch.grammar.properties import gain


def test_relu_gain_is_sqrt_two_and_linear_gain_is_one():
    assert parse("relu(x)").properties()["gain"] == pytest.approx(math.sqrt(2), rel=1e-12)
    assert gain(parse("x")) == pytest.approx(1.0, rel=1e-12)
    assert gain(parse("x^2")) == pytest.approx(1 / math.sqrt(3), rel=1e-12)  # E[z^4] = 3
    assert gain(parse("abs(x)")) == pytest.approx(1.0, rel=1e-12)
    assert gain(parse("0 * x")) is None


def test_swish_bump():
    props = parse("x * sigmoid(x)").properties()
    assert props["min_value"] == pytest.approx(-0.27846454276, abs=1e-9)
    assert props["argmin"] == pytest.approx(-1.27846454276, abs=1e-6)
    assert props["monotonic"] is False and props["smooth"] is True
    assert props["bounded_below"] is True and props["bounded_above"] is False
    assert props["saturates_left"] is True and props["saturates_right"] is False
    assert props["f0"] == 0.0 and props["slope0"] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tanh(x)", {"monotonic": True, "odd": True, "even": False, "bounded_above": True, "bounded_below": True,
                     "saturates_left": True, "saturates_right": True, "smooth": True, "slope0": 1.0, "f0": 0.0}),
        ("relu(x)", {"monotonic": True, "smooth": False, "bounded_below": True, "bounded_above": False,
                     "min_value": None, "saturates_left": True}),
        ("x^2", {"even": True, "odd": False, "monotonic": False, "min_value": 0.0, "smooth": True}),
        ("exp(x)", {"bounded_below": True, "bounded_above": False, "f0": 1.0, "saturates_left": True}),
        ("sigmoid(x)", {"f0": 0.5, "slope0": 0.25, "bounded_above": True, "bounded_below": True}),
        ("x", {"monotonic": True, "bounded_below": False, "bounded_above": False, "odd": True, "smooth": True,
               "linear": True}),
        ("-log(1 + x^2)", {"bounded_below": False, "bounded_above": True, "even": True}),
        ("abs(x)", {"smooth": False, "even": True, "linear": False}),
        ("x / abs(x)", {"smooth": False, "f0": None}),
        ("sqrt(x)", {"smooth": False, "f0": 0.0, "gain": None}),
    ],
)  # fmt: skip
def test_properties(text, expected):
    props = parse(text).properties()
    assert set(props) == {"monotonic", "bounded_below", "bounded_above", "smooth", "f0", "slope0", "min_value",
                          "argmin", "saturates_left", "saturates_right", "odd", "even", "linear", "gain"}  # fmt: skip
    for key, value in expected.items():
        if isinstance(value, float):
            assert props[key] == pytest.approx(value, abs=1e-6), key
        else:
            assert props[key] == value, key


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2 + 0 * x", "constant"),
        ("beta", "constant"),
        ("sin(x)^2 + cos(x)^2", "constant"),
        ("log(-abs(x) - 1)", "non-finite"),
        ("x / abs(x)", "zero gradient"),
        ("x", None),
        ("sqrt(x)", None),  # NaN for x < 0 is a legitimate (bad) candidate, not a trivial one
        ("x * sigmoid(beta * x)", None),
    ],
)
def test_trivial(text, reason):
    assert parse(text).trivial() == reason
