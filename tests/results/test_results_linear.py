"""The ``linear`` property (affine candidates) in properties(), the leaderboard and its formats."""

from __future__ import annotations

import pytest

import actsearch
from actsearch.results import formats
from actsearch.results.leaderboard import build


@pytest.mark.parametrize("text,expected", [
    ("x + beta*x", True), ("x + x", True), ("2*x + 1", True), ("alpha*x + gamma", True),
    ("max(x, x)", True), ("x - 0*sin(x)", True),
    ("beta*x + (1 - beta)*x^2", False),  # the identity at beta = 1 only: not affine as a family
    ("x + 1e-6*x^3", False), ("relu(x)", False), ("x*sigmoid(x)", False), ("gelu(x)", False),
])
def test_linear_property(text: str, expected: bool) -> None:
    assert actsearch.parse(text).properties()["linear"] is expected


def _rec(i: int, expression: str, score: float) -> dict:
    act = actsearch.parse(expression)
    return {"id": i, "expression": expression, "fingerprint": act.fingerprint, "params": dict(act.params),
            "status": "ok", "score": score, "score_std": 0.0, "seeds": [0], "task": "t", "role": "search",
            "created_at": f"2026-01-01T00:00:0{i}"}


def test_leaderboard_marks_linear_rows_in_every_format() -> None:
    board = build([_rec(1, "x + beta*x", 0.7), _rec(2, "x*sigmoid(x)", 0.6), _rec(3, "2*x + 1", 0.5)])
    assert [e.linear for e in board] == [True, False, True]
    head, rows = formats.columns(board)
    col = head.index("linear")
    assert [r[col] for r in rows] == ["LINEAR", "", "LINEAR"]
    assert "LINEAR" in formats.to_markdown(board) and "LINEAR" in formats.to_table(board)
    assert [r["linear"] for r in formats.from_csv(formats.to_csv(board))] == [True, False, True]
    assert [r["linear"] for r in formats.from_json(formats.to_json(board))] == [True, False, True]


def test_no_linear_column_without_linear_rows() -> None:
    board = build([_rec(1, "x*sigmoid(x)", 0.6), _rec(2, "tanh(x)", 0.5)])
    assert "linear" not in formats.columns(board)[0]
    assert [e.linear for e in board] == [False, False]
