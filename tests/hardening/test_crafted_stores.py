"""A run directory and the text it stores are data, never authority: symbolic links are refused,
control characters are shown escaped, huge fields are clipped, and a crafted or damaged store gives
one line (or one warning and the rest of the run) through the real CLI, never a traceback
(findings S3, S4, H2, C1, C2, C3, W1, W2, W5)."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from actsearch.results import records
from actsearch.results.store import RunStoreError, SqliteStore
from actsearch.search.rundir.spec import SearchSpec, prepare
from tests.helpers.cli import error_lines, run_cli
from tests.helpers.stores import fill

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier


CONTROL = ("\x1b", "\x07", "\x9b", "\x00", "\x7f")
READERS = ("leaderboard", "show", "report", "export", "plot")


@pytest.fixture(autouse=True)
def _fresh_warnings():
    records._warned.clear()  # warnings are printed once per process: each test is its own CLI run
    yield


@pytest.fixture(scope="module")
def base_run(tmp_path_factory) -> Path:
    return fill(tmp_path_factory.mktemp("base") / "run")


def _copy(base: Path, tmp: Path) -> Path:
    run = tmp / "run"
    shutil.copytree(base, run)
    return run


def _sql(run: Path, sql: str, *args: object) -> None:
    db = sqlite3.connect(run / "run.sqlite")
    db.execute(sql, args)
    db.commit()
    db.close()


def _digest(run: Path) -> str:
    return hashlib.sha256((run / "run.sqlite").read_bytes()).hexdigest()


def _read(command: str, run: Path, tmp: Path, key: str = "1") -> list[str]:
    return {"leaderboard": ["leaderboard", str(run), "--all"], "show": ["show", str(run), key],
            "report": ["report", str(run), "--out", str(tmp / "r.html")],
            "export": ["export", str(run), key, "--out", str(tmp / "e.py")],
            "plot": ["plot", str(run), "--out", str(tmp / "p.png")]}[command]


def _warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("warning:")]


def _board(run: Path) -> list[dict]:
    code, out, err = run_cli("leaderboard", str(run), "--format", "json", "--all", "--no-properties")
    assert code == 0 and "Traceback" not in err, err
    return json.loads(out)


# -- S3: symbolic links in a run directory ---------------------------------------------------------
SEARCH = ["search", "--searcher", "random", "--task", "digits", "--budget", "1", "--set", "steps=5",
          "--references", "", "--plain"]


def _space(tmp: Path) -> Path:
    space = tmp / "mine.toml"
    space.write_text('units = 1\nunary = ["x", "tanh"]\nbinary = ["mul"]\n')
    return space


def _one_link_error(code: object, err: str, link: Path) -> None:
    assert code == 2 and "Traceback" not in err, err
    lines = error_lines(err)
    assert len(lines) == 1 and f"{link} is a symbolic link; refusing to write through it" in lines[0], err


def test_S3_a_space_toml_link_is_not_followed_by_a_new_search(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    run = tmp_path / "run"
    run.mkdir()
    (run / "space.toml").symlink_to(target)
    code, _, err = run_cli(*SEARCH, "--space", str(_space(tmp_path)), "--run-dir", str(run))
    _one_link_error(code, err, run / "space.toml")
    assert target.read_text() == "keep me\n" and not (run / "run.sqlite").exists()


def test_S3_a_store_link_to_a_missing_path_puts_no_store_there(tmp_path):
    run, target = tmp_path / "run", tmp_path / "elsewhere" / "stolen.sqlite"
    run.mkdir()
    target.parent.mkdir()
    (run / "run.sqlite").symlink_to(target)
    code, _, err = run_cli(*SEARCH, "--space", "quick", "--run-dir", str(run))
    _one_link_error(code, err, run / "run.sqlite")
    assert not target.exists()
    code, _, err = run_cli("leaderboard", str(run))  # a reader would create -shm next to the target
    _one_link_error(code, err, run / "run.sqlite")
    assert list(target.parent.iterdir()) == []


def _stored_search(run: Path) -> Path:
    """A run directory holding a search's metadata (written by the real writer; nothing trained)."""
    spec = SearchSpec(space="quick", searcher="random", task="digits", budget=2, workers=1,
                      task_overrides={"steps": 5}, references=())
    prepare(spec, run).close()
    return run


def test_S3_a_writer_lock_link_is_not_created_by_search_nor_resume(tmp_path):
    target = tmp_path / "created-by-the-lock"
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / ".writer.lock").symlink_to(target)
    code, _, err = run_cli(*SEARCH, "--space", "quick", "--run-dir", str(fresh))
    _one_link_error(code, err, fresh / ".writer.lock")
    assert not target.exists() and not (fresh / "run.sqlite").exists()

    stored = _stored_search(tmp_path / "stored")
    (stored / ".writer.lock").unlink()
    (stored / ".writer.lock").symlink_to(target)
    before = _digest(stored)
    code, _, err = run_cli("resume", str(stored), "--plain")
    _one_link_error(code, err, stored / ".writer.lock")
    assert not target.exists() and _digest(stored) == before
    with pytest.raises(RunStoreError, match="symbolic link"):  # the store's own writer refuses it too
        SqliteStore(stored)
    assert not target.exists()


# -- S4: control characters in stored text ---------------------------------------------------------
ESCAPES = "boom \x1b]0;PWNED\x07 \x1b]52;c;ZWNobyBoaQ==\x07 \x1b[2J \x9b31m done"


def test_S4_terminal_escapes_in_stored_text_are_shown_escaped(base_run, tmp_path):
    run = _copy(base_run, tmp_path)
    _sql(run, "UPDATE candidates SET error=?, canonical=? WHERE id=7", ESCAPES, "\x1b[31mred\x7f")
    _sql(run, "UPDATE candidates SET runs=? WHERE id=7", json.dumps(
        [{"seed": 0, "status": "error", "score": 0.0, "error": ESCAPES, "metrics": {"traceback": ESCAPES}}]))
    outputs = {}
    for fmt in ("table", "csv", "markdown", "json"):
        code, out, err = run_cli("leaderboard", str(run), "--all", "--format", fmt, "--no-properties")
        assert code == 0 and "Traceback" not in err, err
        outputs[fmt] = out
    code, outputs["show"], err = run_cli("show", str(run), "id:7")
    assert code == 0, err
    code, _, err = run_cli("report", str(run), "--out", str(tmp_path / "r.html"))
    assert code == 0, err
    outputs["report"] = (tmp_path / "r.html").read_text()
    for name, out in outputs.items():
        assert not any(c in out for c in CONTROL), name
    for name in ("table", "csv", "markdown", "show"):
        assert "\\x1b]0;PWNED\\x07" in outputs[name], name  # what is stored, shown visibly
    assert "\\x1b[31mred\\x7f" in outputs["csv"] and "\\x1b[31mred\\x7f" in outputs["show"]
    assert json.loads(outputs["json"])[-2]["error"] == ESCAPES  # JSON escapes, and keeps the text as stored


# -- H2 and the 1 MB expression: what is shown is bounded -----------------------------------------
def test_H2_show_of_a_20_MB_error_is_clipped_and_a_1_MB_expression_bounded(base_run, tmp_path):
    run = _copy(base_run, tmp_path)
    _sql(run, "UPDATE candidates SET error=? WHERE id=1", "E" * 20_000_000)
    _sql(run, "UPDATE candidates SET expression=? WHERE id=3", "x + " * 250_000 + "x")
    start = time.perf_counter()
    code, out, err = run_cli("show", str(run), "1")
    assert code == 0 and "Traceback" not in err, err
    assert time.perf_counter() - start < 45 and len(out) < 20_000
    assert "(19,998,000 more characters)" in out
    for fmt in ("table", "markdown"):
        code, out, err = run_cli("leaderboard", str(run), "--format", fmt, "--all", "--no-properties")
        assert code == 0 and len(out) < 20_000 and "more" in out, err
    assert "x + x + … (999,801 more characters)" in out
    code, out, _ = run_cli("leaderboard", str(run), "--format", "csv", "--no-properties")
    assert code == 0 and "x + " * 250_000 + "x" in out  # CSV and JSON keep the full text


# -- C1: crafted metadata ----------------------------------------------------------------------------
@pytest.mark.parametrize("key, value, why", [
    ("task", "{not json", "is not valid JSON"),
    ("task", "[" * 100_000 + "]" * 100_000, "nested deeper than"),
    ("task_overrides", "[1, 2]", "is not a JSON object"),
    ("spec", '"abc"', "is not a JSON object"),
])
def test_C1_a_metadata_value_that_does_not_decode_is_ignored_with_one_warning(base_run, tmp_path, key, value, why):
    run = _copy(base_run, tmp_path)
    _sql(run, "INSERT OR REPLACE INTO meta VALUES (?, ?)", key, value)
    before = _digest(run)
    for command in READERS:
        records._warned.clear()
        code, out, err = run_cli(*_read(command, run, tmp_path))
        assert code == 0 and "Traceback" not in err, (command, err)
        warnings = _warnings(err)
        assert len(warnings) == 1 and repr(key) in warnings[0] and why in warnings[0], (command, err)
    assert len(_board(run)) == 9  # the rest of the run still shows
    assert _digest(run) == before
    with SqliteStore(run) as writer, pytest.raises(RunStoreError, match=f"{key!r}.*refusing to write"):
        writer.meta()  # what a search or resume reads first: the writer never writes into such a store


@pytest.mark.parametrize("value", ['"abc"', "1e999", "true"])
def test_C1_an_unreadable_schema_version_is_one_line(base_run, tmp_path, value):
    run = _copy(base_run, tmp_path)
    _sql(run, "UPDATE meta SET value=? WHERE key='schema_version'", value)
    for command in READERS:
        code, _, err = run_cli(*_read(command, run, tmp_path))
        assert code == 2 and "Traceback" not in err, (command, err)
        lines = error_lines(err)
        assert len(lines) == 1 and "unreadable schema version" in lines[0], err


_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE candidates (
    id INTEGER PRIMARY KEY, trial_id TEXT, expression TEXT NOT NULL, canonical TEXT,
    fingerprint TEXT NOT NULL, params TEXT, alias_of INTEGER, searcher TEXT, step INTEGER, task TEXT NOT NULL,
    role TEXT NOT NULL, status TEXT NOT NULL, score REAL, score_std REAL, seeds TEXT, runs TEXT, metrics TEXT,
    wall_s REAL, error TEXT, retries INTEGER DEFAULT 0, created_at TEXT NOT NULL);
CREATE TABLE pending (trial_id TEXT NOT NULL, role TEXT NOT NULL, task TEXT NOT NULL, proposal TEXT NOT NULL,
    PRIMARY KEY (role, task, trial_id));
CREATE TABLE state (name TEXT PRIMARY KEY, value TEXT, updated_at TEXT);
INSERT INTO meta VALUES ('schema_version', '1'), ('task', '"digits"');
INSERT INTO candidates VALUES (1, 't000000', 'x * tanh(x)', NULL, 'fp-a', '{}', NULL, 'random', 0, 'digits',
    'search', 'ok', 0.9, 0.0, '[0]', '[]', '{}', 1.0, NULL, 0, '2026-01-01');
INSERT INTO pending VALUES ('t000001', 'search', 'digits', '{"expression": "sin(x)", "fingerprint": "fp-b"}');
INSERT INTO pending VALUES ('t000002', 'search', 'digits', '{not json');
INSERT INTO pending VALUES ('t000003', 'search', 'digits', '{"fingerprint": "fp-c"}');
"""


def test_C1_a_schema_1_store_with_a_bad_pending_row(tmp_path):
    db = sqlite3.connect(tmp_path / "run.sqlite")
    db.executescript(_V1)
    db.commit()
    db.close()
    before = _dump(tmp_path)
    code, out, err = run_cli("leaderboard", str(tmp_path), "--format", "json", "--no-properties")
    assert code == 0 and "Traceback" not in err, err
    warnings = _warnings(err)
    assert len(warnings) == 2 and "t000002" in warnings[0] and "t000003" in warnings[1], err
    assert [row["expression"] for row in json.loads(out)] == ["x * tanh(x)"]
    with pytest.raises(RunStoreError, match="pending trial 't000002'.*cannot upgrade"):  # nothing dropped
        SqliteStore(tmp_path)
    assert _dump(tmp_path) == before


def _dump(run: Path) -> list[str]:
    db = sqlite3.connect(run / "run.sqlite")
    try:
        return list(db.iterdump())
    finally:
        db.close()


def _state(run: Path, value: str) -> None:
    _sql(run, "INSERT OR REPLACE INTO state VALUES ('searcher:random', ?, '2026-01-01')", value)


@pytest.mark.parametrize("state", [
    '{"searcher": {"searcher": "random", "seed": 0, "rng": "abc", "stream": {}}, "asked": 1}',
    '{"searcher": {"searcher": "random", "seed": 0}, "asked": 1}',
    "{not json",
    "[" * 100_000,
    '"a string"',
])
def test_C1_resume_with_a_searcher_state_that_does_not_decode(tmp_path, state):
    run = _stored_search(tmp_path / "run")
    _state(run, state)
    code, _, err = run_cli("resume", str(run), "--plain")
    assert code == 2 and "Traceback" not in err, err
    lines = error_lines(err)
    assert len(lines) == 1 and "searcher state 'searcher:random'" in lines[0], err
    assert SqliteStore(run, readonly=True).candidates(include_pending=True) == []  # nothing trained, nothing lost


# -- C2, C3, W1, W2, W5: damaged rows ----------------------------------------------------------------
def test_C2_a_seed_whose_metrics_are_a_string_is_read_without_them(base_run, tmp_path):
    run = _copy(base_run, tmp_path)
    _sql(run, "UPDATE candidates SET runs=? WHERE id=1", json.dumps([{"seed": 0, "status": "ok", "score": 0.96,
                                                                      "metrics": "abc"}]))
    for command in READERS:
        records._warned.clear()
        code, _, err = run_cli(*_read(command, run, tmp_path))
        assert code == 0 and "Traceback" not in err, (command, err)
        warnings = _warnings(err)
        assert len(warnings) == 1 and "row id 1" in warnings[0] and "metrics" in warnings[0], (command, err)
    assert _board(run)[0]["id"] == 1  # the row itself still shows, ranked


@pytest.mark.parametrize("sql, value, command", [
    ("UPDATE candidates SET params=? WHERE id=1", '{"beta": 1e308}', "report"),
    ("UPDATE candidates SET params=? WHERE id=1", '{"beta": 1e308}', "plot"),
    ("UPDATE candidates SET score=? WHERE id=1", 1e308, "report"),
    ("UPDATE candidates SET score=? WHERE id=1", 1e308, "plot"),
])
def test_C3_report_and_plot_leave_out_what_cannot_be_drawn(base_run, tmp_path, sql, value, command):
    run = _copy(base_run, tmp_path)
    _sql(run, sql, value)
    code, out, err = run_cli(*_read(command, run, tmp_path))
    assert code == 0 and "Traceback" not in err, err
    warnings = _warnings(err)
    assert len(warnings) == 1 and "row id 1" in warnings[0], err
    assert (tmp_path / ("r.html" if command == "report" else "p.png")).stat().st_size > 10_000


def test_W1_a_row_that_does_not_parse_is_skipped_by_report_and_named_by_show_and_export(base_run, tmp_path):
    run = _copy(base_run, tmp_path)
    _sql(run, "UPDATE candidates SET expression='x +* (' WHERE id=3")  # rank 2
    for command in ("report", "plot"):
        records._warned.clear()
        code, _, err = run_cli(*_read(command, run, tmp_path))
        assert code == 0 and "Traceback" not in err, err
        warnings = _warnings(err)
        assert len(warnings) == 1 and "row id 3" in warnings[0] and "x +* (" in warnings[0], err
    assert "max(x, 0) + 0.1 * x" not in (tmp_path / "r.html").read_text() and "tanh(x) * x" in \
        (tmp_path / "r.html").read_text()
    for command in ("show", "export"):
        code, _, err = run_cli(*_read(command, run, tmp_path, key="2"))
        lines = error_lines(err)
        assert code == 2 and len(lines) == 1 and "stored row id 3" in lines[0], err
        code, _, err = run_cli(*_read(command, run, tmp_path, key="1"))  # the other ranks still work
        assert code == 0, err


def test_W2_one_invalid_utf8_byte_leaves_the_store_readable(base_run, tmp_path):
    run = _copy(base_run, tmp_path)
    _sql(run, "UPDATE candidates SET error=CAST(X'626164FF21' AS TEXT) WHERE id=7")
    _sql(run, "UPDATE candidates SET searcher=CAST(X'FE' AS TEXT) WHERE id=1")
    for command in READERS:
        code, _, err = run_cli(*_read(command, run, tmp_path))
        assert code == 0 and "Traceback" not in err, (command, err)
    board = _board(run)
    assert len(board) == 9 and any(e["error"] == "bad\ufffd!" for e in board)


def test_W5_an_extra_column_is_ignored(base_run, tmp_path):
    run = _copy(base_run, tmp_path)
    _sql(run, "ALTER TABLE candidates ADD COLUMN added_later TEXT DEFAULT 'x'")
    before = _board(base_run)
    assert _board(run) == before and len(before) == 9
    code, _, err = run_cli("show", str(run), "1")
    assert code == 0 and not _warnings(err), err


@pytest.mark.parametrize("sql, args, raises", [
    ("UPDATE meta SET value='{not json' WHERE key='spec'", (), None),
    ("UPDATE meta SET value=? WHERE key='spec'", ("[" * 100_000 + "]" * 100_000,), None),
    ("UPDATE meta SET value='{\"task_overrides\": [1, 2]}' WHERE key='spec'", (), None),
    ("UPDATE candidates SET runs='[{\"seed\": 0, \"metrics\": \"abc\"}]'", (), None),
    ("ALTER TABLE candidates ADD COLUMN extra TEXT", (), None),
    ("UPDATE meta SET value='\"abc\"' WHERE key='schema_version'", (), "unreadable schema version"),
])
def test_C11_open_run_on_a_crafted_store_reads_the_rest_or_raises_a_user_error(base_run, tmp_path, sql, args,
                                                                                raises):
    """The Python API reads a crafted store as the CLI does: what decodes is shown and exported, and
    what cannot be read at all is a UserError (one line), never a raw exception."""
    import actsearch
    from actsearch.errors import UserError

    run = _copy(base_run, tmp_path)
    _sql(run, sql, *args)
    if raises:
        with pytest.raises(UserError, match=raises):
            actsearch.open_run(run).leaderboard()
        return
    with actsearch.open_run(run) as opened:
        rows = opened.leaderboard().to_records()
        opened.export(1, str(tmp_path / "best.py"))
    with actsearch.open_run(base_run) as original:
        assert len(rows) == len(original.leaderboard().to_records()) > 0
    assert (tmp_path / "best.py").is_file()
