"""No traceback for any stored or typed input: nowhere-finite functions, corrupted run stores,
spreadsheet formulas in the CSV, export of a function that is not finite (issue: hardening, 2 and 5)."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import actsearch
from actsearch.results.formats import from_csv
from tests.helpers.cli import error_lines, run_cli
from tests.helpers.stores import fill

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier


NOWHERE_FINITE = ["1/0", "sqrt(-1)", "0/0*x", "x*(1/0)", "2^10000 + x"]


@pytest.mark.parametrize("text", NOWHERE_FINITE)
def test_inspect_reports_functions_that_are_nowhere_finite(text):
    code, out, err = run_cli("inspect", text, "--json")
    assert code == 0 and "Traceback" not in err
    act = actsearch.parse(text)
    assert act.trivial() == "non-finite"
    props = act.properties()
    assert props["gain"] is None and props["f0"] is None and props["monotonic"] is False


@pytest.fixture(scope="module")
def base_run(tmp_path_factory) -> Path:
    return fill(tmp_path_factory.mktemp("base") / "run")


def _copy(base: Path, tmp: Path) -> Path:
    run = tmp / "run"
    shutil.copytree(base, run)
    return run


def _set(run: Path, sql: str, *args) -> None:
    db = sqlite3.connect(run / "run.sqlite")
    db.execute(sql, args)
    db.commit()
    db.close()


def _digest(run: Path) -> str:
    return hashlib.sha256((run / "run.sqlite").read_bytes()).hexdigest()


@pytest.mark.parametrize("text", ["1/0", "0/0*x", "sqrt(-1)"])
def test_show_report_plot_on_a_stored_nowhere_finite_function(base_run, tmp_path, text):
    run = _copy(base_run, tmp_path)
    _set(run, "UPDATE candidates SET expression=?, canonical=? WHERE id=1", text, text)
    for args in (["show", str(run), "1"], ["report", str(run), "--out", str(tmp_path / "r.html")],
                 ["plot", str(run), "--out", str(tmp_path / "p.png")]):
        code, _, err = run_cli(*args)
        assert code == 0 and "Traceback" not in err, (args, err)
    code, _, err = run_cli("export", str(run), "1", "--out", str(tmp_path / "e.py"))
    assert code == 2 and "is not finite" in err and len(error_lines(err)) == 1
    assert not (tmp_path / "e.py").exists()


def test_a_row_that_does_not_decode_is_skipped_with_one_warning(base_run, tmp_path):
    run = _copy(base_run, tmp_path)
    _set(run, "UPDATE candidates SET metrics='{' WHERE id=3")
    before = _digest(run)
    code, out, err = run_cli("leaderboard", str(run), "--format", "json")
    assert code == 0
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "row id 3" in warnings[0] and "metrics" in warnings[0]
    ids = {row["id"] for row in __import__("json").loads(out)}
    assert 3 not in ids and 1 in ids  # the rest still shows
    for args in (["report", str(run), "--out", str(tmp_path / "r.html")], ["plot", str(run), "--out", str(tmp_path / "p.png")]):
        code, _, err = run_cli(*args)
        assert code == 0 and "Traceback" not in err
    assert _digest(run) == before


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(base_run, tmp_path):
    run = _copy(base_run, tmp_path)
    _set(run, "UPDATE candidates SET expression=? WHERE id=3", "=cmd|' /C calc'!A0")
    _set(run, "UPDATE candidates SET expression=? WHERE id=4", "-x + @y")
    code, out, _ = run_cli("leaderboard", str(run), "--format", "csv", "--all")
    assert code == 0
    cells = [c for line in out.splitlines()[1:] for c in line.split(",")]
    assert not any(c.startswith(("=", "+", "@")) for c in cells)
    assert not any(c.startswith("-") and not c.lstrip("-").replace(".", "").replace("e", "").isdigit() for c in cells)
    rows = from_csv(out)
    assert {r["expression"] for r in rows} >= {"=cmd|' /C calc'!A0", "-x + @y"}  # read back as stored


COLUMNS = ["expression", "canonical", "params", "seeds", "runs", "metrics", "score", "score_std", "wall_s", "status",
           "role", "step", "alias_of", "retries", "trial", "task", "created_at", "fingerprint", "error", "searcher",
           "state", "reference", "settings"]
VALUES = st.sampled_from([None, 0, -1, 1, 2**62, 1.5, float("inf"), float("nan"), "", "{", "[", "[1]", "{}", "null",
                          '"x"', '{"dnr": "abc", "pd": [1], "predicted": "x"}', '[{"seed": "a", "score": "b"}]',
                          '{"beta": 1e999}', '{"beta": "x"}', '["a"]', "1/0", "0/0*x", "sqrt(-1)", "=cmd|x",
                          "x+", "relu", "library:relu", "ok", "weird", "reference", "search", b"\x00\xff",
                          "[" * 5000, "x" * 10_000])


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(st.sampled_from(COLUMNS), st.integers(1, 12), VALUES), min_size=1, max_size=3),
       st.sampled_from([["leaderboard", "{run}"], ["leaderboard", "{run}", "--format", "csv", "--all"],
                        ["leaderboard", "{run}", "--format", "json"], ["show", "{run}", "1"], ["show", "{run}", "relu"],
                        ["show", "{run}", "id:3"], ["export", "{run}", "1", "--out", "{tmp}/e.py"],
                        ["report", "{run}", "--out", "{tmp}/r.html"], ["plot", "{run}", "--out", "{tmp}/p.png"]]))
def test_fuzzed_corrupt_stores_never_give_a_traceback_nor_change(base_run, tmp_path_factory, edits, command):
    tmp = tmp_path_factory.mktemp("fuzz")
    run = _copy(base_run, tmp)
    db = sqlite3.connect(run / "run.sqlite")
    db.execute("PRAGMA ignore_check_constraints = ON")
    for column, row, value in edits:
        try:
            db.execute(f"UPDATE candidates SET {column}=? WHERE id=?", (value, row))
        except sqlite3.Error:  # NOT NULL and UNIQUE still hold: a store SQLite itself refuses is not possible
            pass
    db.commit()
    db.close()
    before = _digest(run)
    args = [a.replace("{run}", str(run)).replace("{tmp}", str(tmp)) for a in command]
    code, _, err = run_cli(*args)
    assert code in (0, 2), err
    assert "Traceback" not in err
    assert len(error_lines(err)) <= 1
    assert _digest(run) == before
