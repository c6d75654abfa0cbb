"""Statuses, roles and trial states are str enums: stored, sent and shown exactly as their text
(SQLite rows, JSON, CSV, pickles for Ray, printed tables), and stored text parses back to them."""

from __future__ import annotations

import csv
import io
import json
import pickle
import sqlite3

import pytest

import actsearch
from actsearch.evaluators.result import STATUSES, CandidateResult, EvalResult, Status
from actsearch.results import formats
from actsearch.results.memory import MemoryStore
from actsearch.results.records import DB_NAME, Role, TrialState
from actsearch.results.store import SqliteStore

MEMBERS = [m for kind in (Status, Role, TrialState) for m in kind]


@pytest.mark.parametrize("member", MEMBERS, ids=[f"{type(m).__name__}.{m.name}" for m in MEMBERS])
def test_a_member_prints_formats_and_serialises_as_its_text(member):
    text, kind = member.value, type(member)
    assert str(member) == f"{member}" == format(member, "") == text
    assert f"{member:<14}|{member:>14}" == f"{text:<14}|{text:>14}"  # the padded cells of a table
    assert member == text and hash(member) == hash(text) and {text: 1}[member] == 1
    assert json.dumps({member: [member]}) == json.dumps({text: [text]})
    assert kind(json.loads(json.dumps(member))) is member
    out = io.StringIO()
    csv.writer(out).writerow([member, text])
    cells = next(csv.reader(io.StringIO(out.getvalue())))
    assert cells == [text, text] and kind(cells[0]) is member
    assert pickle.loads(pickle.dumps(member)) is member  # what Ray sends between processes


def test_the_enums_are_exported_and_results_parse_their_status_text():
    assert (actsearch.Status, actsearch.Role, actsearch.TrialState) == (Status, Role, TrialState)
    assert set(STATUSES) < set(Status) and Status.STOPPED not in STATUSES
    run = EvalResult("diverged", 0.0, 3)
    assert run.status is Status.DIVERGED and EvalResult.from_dict(run.to_dict()) == run
    assert CandidateResult.from_runs([run]).status is Status.DIVERGED
    assert CandidateResult.from_dict(json.loads(json.dumps(CandidateResult.from_runs([run]).to_dict()))).status \
        is Status.DIVERGED
    with pytest.raises(ValueError):
        EvalResult("weird", 0.0, 0)


@pytest.mark.parametrize("backend", ["sqlite", "memory"])
def test_every_status_role_and_state_round_trips_through_the_store(tmp_path, backend):
    store = SqliteStore(tmp_path / "run") if backend == "sqlite" else MemoryStore()
    with store:
        for role in Role:
            for status in Status:
                result = CandidateResult(status=status, score=0.0, score_std=0.0)
                store.record(f"x + 1  # {role} {status}", f"fp-{status}", result, task="digits", role=role,
                             status=status)
        pending = store.add_trial("x", "fp-new", task="digits", trial=1)
        running = store.add_trial("x * x", "fp-busy", task="digits", role="validation", trial=2)
        store.set_running(running)
        rows = store.candidates(include_pending=True)
        assert {(r.role, r.status) for r in rows} == {(role, status) for role in Role for status in Status}
        for r in rows:
            assert type(r.role) is Role and type(r.status) is Status and type(r.state) is TrialState
        by_id = {r.id: r for r in rows}
        assert by_id[pending].state is TrialState.PENDING and by_id[pending].status is Status.PENDING
        assert by_id[running].state is TrialState.RUNNING and by_id[running].role is Role.VALIDATION
        assert {r.state for r in rows if r.id not in (pending, running)} == {TrialState.DONE}
        # a filter by member or by its stored text selects the same rows
        assert store.candidates(role=Role.CONFIRMATION) == store.candidates(role="confirmation") != []
    if backend == "sqlite":  # stored as the plain text it always was
        db = sqlite3.connect(tmp_path / "run" / DB_NAME)
        stored = db.execute("SELECT role, status, state, typeof(role), typeof(status), typeof(state) "
                            "FROM candidates").fetchall()
        db.close()
        assert {(r, s, t) for r, s, t, *_ in stored} >= {(r.value, s.value, "done") for r in Role for s in Status}
        assert {row[3:] for row in stored} == {("text", "text", "text")}


def test_a_stored_value_outside_its_enum_skips_that_row_with_a_warning(tmp_path, capsys):
    with SqliteStore(tmp_path / "run") as store:
        for k in range(2):
            store.record(f"x + {k}", f"fp-{k}", CandidateResult(status="ok", score=0.5, score_std=0.0),
                         task="digits")
    db = sqlite3.connect(tmp_path / "run" / DB_NAME)
    db.execute("UPDATE candidates SET status = 'weird' WHERE id = 1")
    db.commit()
    db.close()
    rows = SqliteStore(tmp_path / "run", readonly=True).candidates()
    assert [r.id for r in rows] == [2]
    assert "skipping stored row id 1: status is not one of ok, diverged, error, timeout, invalid, stopped, " \
           "pending" in capsys.readouterr().err


def test_leaderboard_outputs_show_the_stored_text(run_dir):
    with actsearch.open_run(run_dir) as run:
        board = run.leaderboard(include_failed=True)
    assert {e.status for e in board} == {Status.OK, Status.DIVERGED, Status.INVALID}
    assert {e.role for e in board} == {Role.SEARCH, Role.REFERENCE}
    for text in (formats.to_csv(board), formats.to_json(board), board.format("table"), board.format("markdown")):
        assert "Status." not in text and "Role." not in text and "TrialState." not in text
    assert {r["status"] for r in formats.from_csv(formats.to_csv(board))} == {"ok", "diverged", "invalid"}
    assert {r["role"] for r in formats.from_json(formats.to_json(board))} == {"search", "reference"}
