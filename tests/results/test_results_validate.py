"""Validation: the top K plus relu, gelu and swish trained again (real training, tiny budget) and stored."""

from __future__ import annotations

import shutil

import pytest

import actsearch
from actsearch.errors import UserError
from actsearch.results.store import SqliteStore
from actsearch.search.pipelines.validate import validate

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier


@pytest.fixture
def writable_run(run_dir, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns(".writer.lock"))
    return copy


def test_validate_stores_rows_and_fills_columns(writable_run):
    rows = validate(writable_run, "digits", top=2, seeds=2, overrides={"steps": 20})
    assert [r.expression for r in rows] == ["x * sigmoid(beta * x)", "max(x, 0) + 0.1 * x", "relu", "gelu", "swish"]
    assert all(r.status == "ok" and r.task == "digits[steps=20]" for r in rows)
    assert all(0.0 < r.score <= 1.0 for r in rows)
    with actsearch.open_run(writable_run) as run:
        stored = run.records(task="digits", settings={"steps": 20}, role="validation")
        assert len(stored) == 5 and all(r.seeds == [0, 1] and len(r.runs) == 2 for r in stored)
        board = run.leaderboard()
    by_name = {(e.role, e.reference if e.role == "reference" else e.expression): e for e in board}
    for key in (("search", "x * sigmoid(beta * x)"), ("search", "max(x, 0) + 0.1 * x"),
                ("reference", "relu"), ("reference", "swish")):
        e = by_name[key]
        assert e.val_task == "digits[steps=20]" and e.val_seeds == 2
        assert e.val_score == pytest.approx(next(r.score for r in rows if r.id == e_id(stored, e)))
    assert by_name[("search", "tanh(x) * x")].val_score is None
    again = validate(writable_run, "digits", top=2, seeds=2, overrides={"steps": 20})
    assert [r.status for r in again] == ["skipped"] * 5  # already validated: nothing re-trained
    with actsearch.open_run(writable_run) as run:
        assert len(run.records(role="validation")) == 5 + 2  # plus the two generated ones


def e_id(stored, entry) -> int:
    if entry.role == "reference":
        return next(r.id for r in stored if r.reference == entry.reference)
    return next(r.id for r in stored if r.reference is None and r.fingerprint == entry.fingerprint)


def test_validate_refuses_bad_input_and_a_busy_run(writable_run):
    with pytest.raises(UserError, match="unknown task|cifar100"):
        validate(writable_run, "cifar100", top=1)
    with pytest.raises(UserError):
        validate(writable_run, "digits", top=1, seeds=0)
    with SqliteStore(writable_run) as writer:  # a search is running: reading works, validating waits
        with pytest.raises(UserError, match="in use"):
            validate(writable_run, "digits", top=0, seeds=1, overrides={"steps": 5})
        with actsearch.open_run(writable_run) as run:
            before = len(run.leaderboard(properties=False))
            act = actsearch.parse("x * tanh(softplus(x))")
            writer.record(act.text, act.fingerprint, result_of(0.99), task="digits", seeds=[0])
            board = run.leaderboard(properties=False)  # the same reader sees the new row
        assert len(board) == before + 1 and board[0].expression == "x * tanh(softplus(x))"


def result_of(score: float):
    from actsearch.evaluators.result import CandidateResult, EvalResult

    return CandidateResult.from_runs([EvalResult(status="ok", score=score, seed=0)])


def test_validate_on_a_user_task_file(writable_run):
    from pathlib import Path

    ref = str(Path(__file__).resolve().parents[2] / "examples" / "own_loop.py") + ":task"
    rows = validate(writable_run, ref, top=1, seeds=2, overrides={"steps": 40}, references=False)
    assert len(rows) == 1 and rows[0].status == "ok" and 0.0 < rows[0].score <= 1.0
    assert rows[0].task == f"{ref}[steps=40]"
