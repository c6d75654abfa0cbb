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


def _records(*rows: tuple[str, float]) -> list:
    """Typed records of scored candidates, written through the in-memory store."""
    from actsearch.evaluators.result import CandidateResult, EvalResult
    from actsearch.results.memory import MemoryStore

    store = MemoryStore()
    for i, (expression, score) in enumerate(rows):
        act = actsearch.parse(expression)
        store.record(expression, act.fingerprint, CandidateResult.from_runs([EvalResult("ok", score, 0, 0.1, {})]),
                     task="t", trial=i, params=dict(act.params), seeds=[0])
    return store.candidates()


def test_leaderboard_marks_linear_rows_in_every_format() -> None:
    board = build(_records(("x + beta*x", 0.7), ("x*sigmoid(x)", 0.6), ("2*x + 1", 0.5)))
    assert [e.linear for e in board] == [True, False, True]
    head, rows = formats.columns(board)
    col = head.index("linear")
    assert [r[col] for r in rows] == ["LINEAR", "", "LINEAR"]
    assert "LINEAR" in formats.to_markdown(board) and "LINEAR" in formats.to_table(board)
    assert [r["linear"] for r in formats.from_csv(formats.to_csv(board))] == [True, False, True]
    assert [r["linear"] for r in formats.from_json(formats.to_json(board))] == [True, False, True]


def test_no_linear_column_without_linear_rows() -> None:
    board = build(_records(("x*sigmoid(x)", 0.6), ("tanh(x)", 0.5)))
    assert "linear" not in formats.columns(board)[0]
    assert [e.linear for e in board] == [False, False]
