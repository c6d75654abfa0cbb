"""The SQLite run store: round trip, uniqueness, atomic pending/state, readers, failures."""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import threading

import pytest

from actsearch.errors import UserError
from actsearch.evaluators.result import CandidateResult, EvalResult
from actsearch.results.store import RunStoreError, SqliteStore


def _result(score: float, status: str = "ok", seeds=(0, 1)) -> CandidateResult:
    runs = [EvalResult(status=status, score=score if status == "ok" else 0.0, seed=s, wall_s=0.5,
                       metrics={"test_acc": score}) for s in seeds]
    return CandidateResult.from_runs(runs, metrics={"pd": 0.01})


@pytest.fixture(params=["sqlite", "memory"])
def open_store(request, tmp_path):
    """Both backends of the store protocol, tested alike: ``open_store()`` → a writer."""
    from actsearch.results.memory import MemoryStore

    memory = MemoryStore()
    return (lambda: SqliteStore(tmp_path / "run")) if request.param == "sqlite" else (lambda: memory)


def test_round_trip_with_aliases_and_filters(open_store):
    with open_store() as store:
        store.init_run({"task": "digits", "budget": 3, "command": ["actsearch", "search"]})
        a = store.record("x * sigmoid(x)", "fp-a", _result(0.9), task="digits", trial=1,
                         canonical="x*sigmoid(x)", params={}, searcher="exhaustive", step=0,
                         seeds=[0, 1], aliases=["sigmoid(x) * x"])
        store.record("relu(x)", "fp-b", _result(0.0, "diverged"), task="digits", trial=2,
                     searcher="exhaustive", step=1, seeds=[0, 1])
        store.record("x * sigmoid(beta * x)", "fp-c", _result(0.8), task="digits", role="reference",
                     params={"beta": 1.0}, trial=3, reference="swish")
        store.record_invalid("x - x", "fp-d", "constant", task="digits", searcher="exhaustive")
        store.record("x", "fp-e", _result(0.7), task="digits", settings={"steps": 50}, role="validation")
    ro = open_store() if not isinstance(store, SqliteStore) else SqliteStore(store.run_dir, readonly=True)
    assert ro.meta()["task"] == "digits" and ro.meta()["budget"] == 3
    rows = ro.candidates()
    assert [r.expression for r in rows][:5] == ["x * sigmoid(x)", "sigmoid(x) * x", "relu(x)",
                                                "x * sigmoid(beta * x)", "x - x"]
    first, alias = rows[0], rows[1]
    assert first.id == a and alias.alias_of == a and alias.score == first.score == pytest.approx(0.9)
    assert first.runs[1]["seed"] == 1 and first.metrics == {"pd": 0.01} and first.seeds == [0, 1]
    assert first.canonical == "x*sigmoid(x)" and first.searcher == "exhaustive" and first.step == 0
    assert first.state == "done" and first.trial == 1 and first.reference is None
    assert [r.expression for r in ro.candidates(role="search", include_failed=False)] == [
        "x * sigmoid(x)", "sigmoid(x) * x"]
    assert [r.reference for r in ro.candidates(task="digits", role="reference")] == ["swish"]
    assert rows[3].params == {"beta": 1.0}
    assert rows[4].status == "invalid" and rows[4].error == "constant" and rows[4].trial is None
    val = ro.candidates(settings={"steps": 50})
    assert [r.task_label for r in val] == ["digits[steps=50]"] and val[0].settings == {"steps": 50}
    # Trials: rows with a trial number; the invalid one was stored without training.
    assert ro.count(role="search") == 2 and ro.count() == 3
    assert set(ro.fingerprints(role="search")) == {"fp-a", "fp-b", "fp-d"}
    if isinstance(ro, SqliteStore):
        with pytest.raises(RunStoreError):
            ro.init_run({"x": 1})
        ro.close()


def test_duplicate_fingerprint_is_refused_and_nothing_is_lost(open_store):
    store = open_store()
    store.record("x", "fp", _result(0.5), task="digits")
    with pytest.raises(UserError, match="already stored"):
        store.record("x + 0", "fp", _result(0.7), task="digits", aliases=["0 + x"])
    # Same fingerprint on another task, settings or role, or as a reference, is a different evaluation.
    store.record("x", "fp", _result(0.6), task="mnist1d")
    store.record("x", "fp", _result(0.6), task="digits", settings={"steps": 5})
    store.record("x", "fp", _result(0.6), task="digits", role="validation")
    store.record("x", "fp", _result(0.6), task="digits", role="validation", reference="relu")
    rows = store.candidates(task="digits", settings={}, role="search")
    assert len(rows) == 1 and rows[0].score == pytest.approx(0.5) and len(store.candidates()) == 5


def test_nan_score_round_trips_as_nan(open_store):
    store = open_store()
    res = CandidateResult(status="error", score=float("nan"), score_std=float("nan"), error="boom")
    store.record("log(x)", "fp", res, task="digits")
    row = store.candidates()[0]
    assert math.isnan(row.score) and row.error == "boom" and row.status == "error"


def test_a_trial_goes_pending_running_done_and_its_aliases_follow(open_store):
    store = open_store()
    t1 = store.add_trial("x", "f1", task="digits", trial=1, step=0, metrics={"predicted": 0.4}, seeds=[0, 1])
    t2 = store.add_trial("-x", "f2", task="digits", trial=2, step=1)
    alias = store.record_alias("x + 0", t1)
    assert [r.state for r in store.pending()] == ["pending", "pending"] and store.candidates() == []
    assert store.fingerprints(task="digits") == {"f1": t1, "f2": t2} and store.last_trial() == 2
    store.set_running(t1)
    assert store.pending()[0].state == "running"
    store.finish(t1, _result(0.5), canonical="x")
    done = store.candidates(task="digits")
    assert [r.id for r in done] == [t1, alias] and done[0].state == done[1].state == "done"
    assert done[1].score == pytest.approx(0.5) and done[0].metrics == {"predicted": 0.4, "pd": 0.01}
    assert [r.expression for r in store.pending(task="digits", role="search")] == ["-x"]
    assert store.count(task="digits") == 1
    store.save_state("searcher", {"n": 3})
    assert store.load_state("searcher") == {"n": 3} and store.load_state("other") is None
    merged = store.add_runs(t1, _result(0.7, seeds=(2,)), [2])
    assert merged.seeds == [0, 1, 2] and merged.score == pytest.approx((0.5 + 0.5 + 0.7) / 3)


def test_transaction_groups_writes(open_store):
    store = open_store()
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.add_trial("x", "f1", task="digits", trial=1)
            store.record_invalid("x - x", "f-const", "constant", task="digits")
            store.save_state("searcher", {"n": 1})
            raise RuntimeError("driver dies mid-way")
    assert store.pending() == [] and store.candidates() == [] and store.load_state("searcher") is None
    with store.transaction():
        store.add_trial("x", "f1", task="digits", trial=1)
        store.record_invalid("x - x", "f-const", "constant", task="digits")
    assert len(store.pending()) == 1 and len(store.candidates()) == 1



def test_nested_transactions_join_the_outermost(open_store, tmp_path):
    """The nesting is the Store base's, the same for both backends: an inner block commits nothing
    of its own, an error caught inside the outer block keeps the inner writes (the outer commits),
    and an error that leaves the outer block undoes every write of both."""
    store = open_store()
    with store.transaction():
        store.add_trial("x", "f1", task="digits", trial=1)
        with pytest.raises(RuntimeError), store.transaction():
            store.add_trial("x * x", "f2", task="digits", trial=2)
            raise RuntimeError("caught by the outer block")
        assert store._depth == 1
    assert store._depth == 0 and [r.fingerprint for r in store.pending()] == ["f1", "f2"]
    with pytest.raises(RuntimeError), store.transaction():
        with store.transaction():
            store.add_trial("x + 1", "f3", task="digits", trial=3)
            store.save_state("searcher", {"n": 3})
        raise RuntimeError("the outer block fails")
    assert [r.fingerprint for r in store.pending()] == ["f1", "f2"] and store.load_state("searcher") is None
    store.add_trial("x + 1", "f3", task="digits", trial=3)  # the store still writes afterwards
    assert store.last_trial() == 3
    if isinstance(store, SqliteStore):
        store.close()
        with SqliteStore(store.run_dir, readonly=True) as ro, pytest.raises(RunStoreError, match="read-only"):
            ro.add_trial("x - 1", "f4", task="digits", trial=4)


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
INSERT INTO candidates VALUES (2, NULL, 'tanh(x) * x', NULL, 'fp-a', '{}', 1, 'random', NULL, 'digits',
    'search', 'ok', 0.9, 0.0, '[0]', '[]', '{}', 1.0, NULL, 0, '2026-01-01');
INSERT INTO candidates VALUES (3, 'ref:relu', 'max(x, 0)', NULL, 'library:relu', '{}', NULL, 'reference', NULL,
    'digits', 'reference', 'ok', 0.8, 0.0, '[0]', '[]', '{}', 1.0, NULL, 0, '2026-01-01');
INSERT INTO candidates VALUES (4, NULL, 'relu', NULL, 'library:relu', '{}', NULL, 'validate', NULL,
    'digits[steps=50]', 'validation', 'ok', 0.85, 0.0, '[0]', '[]', '{}', 1.0, NULL, 0, '2026-01-01');
INSERT INTO pending VALUES ('t000001', 'search', 'digits', '{"expression": "sin(x)", "fingerprint": "fp-b"}');
"""


def test_a_schema_1_store_is_read_as_it_is_and_migrated_on_open(tmp_path):
    import sqlite3

    import actsearch

    db = sqlite3.connect(tmp_path / "run.sqlite")
    db.executescript(_V1)
    db.commit()
    db.close()
    with SqliteStore(tmp_path, readonly=True) as ro:  # read as it is
        old = ro.candidates(include_pending=True)
    with SqliteStore(tmp_path) as store:  # migrated once, on open for writing
        assert store.meta()["schema_version"] == 2
        new = store.candidates(include_pending=True)
    for rows in (old, new):
        by_id = {r.id: r for r in rows}
        assert by_id[1].trial == 1 and by_id[2].alias_of == 1 and by_id[2].trial is None
        assert by_id[3].reference == "relu" and by_id[3].fingerprint == actsearch.parse("max(x, 0)").fingerprint
        assert by_id[4].reference == "relu" and by_id[4].task == "digits" and by_id[4].settings == {"steps": 50}
        pending = [r for r in rows if r.state == "pending"]
        assert [(p.expression, p.trial, p.step) for p in pending] == [("sin(x)", 3, 1)]  # relu was trial 2


def test_second_writer_is_refused_readers_are_not(tmp_path):
    store = SqliteStore(tmp_path)
    with pytest.raises(RunStoreError, match="in use"):
        SqliteStore(tmp_path)
    SqliteStore(tmp_path, readonly=True).candidates()
    store.close()
    SqliteStore(tmp_path).close()


def test_reader_never_blocks_the_writer(tmp_path):
    writer = SqliteStore(tmp_path)
    writer.record("x", "f0", _result(0.1), task="digits", trial=1)
    seen: list[int] = []
    stop = threading.Event()

    def read() -> None:
        reader = SqliteStore(tmp_path, readonly=True)
        while True:  # at least one read, however fast the writer is
            # An open read transaction (a snapshot) held while the writer commits.
            reader._db.execute("BEGIN")
            seen.append(len(reader.candidates()))
            reader._db.execute("COMMIT")
            if stop.is_set():
                break

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for i in range(1, 60):
            writer.record(f"x + {i}", f"f{i}", _result(0.1), task="digits", trial=i + 2)
    finally:
        stop.set()
        thread.join()
    assert writer.count() == 60 and len(SqliteStore(tmp_path, readonly=True).candidates()) == 60
    assert seen and seen == sorted(seen)  # readers only ever see whole, growing snapshots


def test_missing_store_for_reader(tmp_path):
    with pytest.raises(RunStoreError, match="no run store"):
        SqliteStore(tmp_path / "nope", readonly=True)


def test_full_disk_gives_clear_error_and_keeps_stored_rows(tmp_path):
    store = SqliteStore(tmp_path)
    store.record("x", "f0", _result(0.3), task="digits", trial=1)
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count={pages + 2}")  # a disk with room for ~2 more pages
    big = _result(0.5, seeds=range(400))
    with pytest.raises(RunStoreError, match="full"):
        for i in range(1, 50):
            store.record(f"x + {i}", f"f{i}", big, task="digits", trial=i + 2)
    stored = SqliteStore(tmp_path, readonly=True).candidates()
    assert stored[0].expression == "x" and len(stored) == store.count() >= 1
    assert all(len(r.runs) == 400 for r in stored[1:])


def _try_write_as_other_user(run) -> str:
    """Open ``run`` for writing in a forked child; as root, drop to "nobody" first (else
    directory permissions would not bind). Returns what the child saw."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            SqliteStore(run).save_state("s", {"a": 1})
            msg = "WROTE"
        except UserError as err:
            msg = f"USERERROR {err}"
        except BaseException as err:  # noqa: BLE001 - reported to the parent
            msg = f"OTHER {type(err).__name__}: {err}"
        os.write(write_fd, msg.encode())
        os._exit(0)
    os.close(write_fd)
    os.waitpid(pid, 0)
    with os.fdopen(read_fd) as fh:
        return fh.read()


def test_read_only_directory_gives_clear_error():
    base = tempfile.mkdtemp()  # under /tmp, reachable by an unprivileged user
    try:
        os.chmod(base, 0o755)
        run = os.path.join(base, "run")
        with SqliteStore(run) as store:
            store.record("x", "f0", _result(0.3), task="digits")
        for name in os.listdir(run):
            os.chmod(os.path.join(run, name), 0o444)
        os.chmod(run, 0o555)
        seen = _try_write_as_other_user(run)
        assert seen.startswith("USERERROR") and "\n" not in seen, seen
        assert [r.expression for r in SqliteStore(run, readonly=True).candidates()] == ["x"]
    finally:
        os.chmod(os.path.join(base, "run"), 0o755)
        shutil.rmtree(base)
