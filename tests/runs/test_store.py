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
from actsearch.results.store import RunStore, RunStoreError


def _result(score: float, status: str = "ok", seeds=(0, 1)) -> CandidateResult:
    runs = [EvalResult(status=status, score=score if status == "ok" else 0.0, seed=s, wall_s=0.5,
                       metrics={"test_acc": score}) for s in seeds]
    return CandidateResult.from_runs(runs, metrics={"pd": 0.01})


def test_round_trip_with_aliases_and_filters(tmp_path):
    with RunStore(tmp_path / "run") as store:
        store.init_run({"task": "digits", "budget": 3, "command": ["actsearch", "search"]})
        a = store.record("x * sigmoid(x)", "fp-a", _result(0.9), task="digits", trial_id="t000000",
                         canonical="x*sigmoid(x)", params={}, searcher="exhaustive", step=0,
                         seeds=[0, 1], aliases=["sigmoid(x) * x"])
        store.record("relu(x)", "fp-b", _result(0.0, "diverged"), task="digits", trial_id="t000001",
                     searcher="exhaustive", step=1, seeds=[0, 1])
        store.record("swish", "fp-c", _result(0.8), task="digits", role="reference", params={"beta": 1.0},
                     trial_id="ref:swish")
        store.record_invalid("x - x", "fp-d", "constant", task="digits", searcher="exhaustive")
    ro = RunStore(tmp_path / "run", readonly=True)
    assert ro.meta()["task"] == "digits" and ro.meta()["budget"] == 3
    rows = ro.candidates()
    assert [r.expression for r in rows] == ["x * sigmoid(x)", "sigmoid(x) * x", "relu(x)", "swish", "x - x"]
    first, alias = rows[0], rows[1]
    assert first.id == a and alias.alias_of == a and alias.score == first.score == pytest.approx(0.9)
    assert first.runs[1]["seed"] == 1 and first.metrics == {"pd": 0.01} and first.seeds == [0, 1]
    assert first.canonical == "x*sigmoid(x)" and first.searcher == "exhaustive" and first.step == 0
    assert [r.expression for r in ro.candidates(role="search", include_failed=False)] == [
        "x * sigmoid(x)", "sigmoid(x) * x"]
    assert [r.expression for r in ro.candidates(task="digits", role="reference")] == ["swish"]
    assert rows[3].params == {"beta": 1.0}
    assert rows[4].status == "invalid" and rows[4].error == "constant" and rows[4].trial_id is None
    # Evaluations: rows with a trial id; the invalid one was stored without training.
    assert ro.count(role="search") == 2 and ro.count() == 3
    assert set(ro.fingerprints(role="search")) == {"fp-a", "fp-b", "fp-d"}
    with pytest.raises(RunStoreError):
        ro.init_run({"x": 1})


def test_duplicate_fingerprint_is_refused_and_nothing_is_lost(tmp_path):
    store = RunStore(tmp_path)
    store.record("x", "fp", _result(0.5), task="digits")
    with pytest.raises(UserError, match="already stored"):
        store.record("x + 0", "fp", _result(0.7), task="digits", aliases=["0 + x"])
    # Same fingerprint on another task or role is a different evaluation.
    store.record("x", "fp", _result(0.6), task="mnist1d")
    store.record("x", "fp", _result(0.6), task="digits", role="validation")
    rows = store.candidates(task="digits", role="search")
    assert len(rows) == 1 and rows[0].score == pytest.approx(0.5)


def test_nan_score_round_trips_as_nan(tmp_path):
    store = RunStore(tmp_path)
    res = CandidateResult(status="error", score=float("nan"), score_std=float("nan"), error="boom")
    store.record("log(x)", "fp", res, task="digits")
    row = store.candidates()[0]
    assert math.isnan(row.score) and row.error == "boom" and row.status == "error"


def test_pending_and_state_are_atomic_with_results(tmp_path):
    store = RunStore(tmp_path)
    store.add_pending("t1", {"expression": "x", "fingerprint": "f1"}, task="digits", state=("searcher", {"n": 1}))
    store.add_pending("t2", {"expression": "-x", "fingerprint": "f2"}, task="digits", state=("searcher", {"n": 2}))
    assert [p["trial_id"] for p in store.pending()] == ["t1", "t2"]
    assert store.load_state("searcher") == {"n": 2}
    store.record("x", "f1", _result(0.5), task="digits", trial_id="t1", state=("searcher", {"n": 3}))
    pend = store.pending(task="digits", role="search")
    assert [p["expression"] for p in pend] == ["-x"] and pend[0]["fingerprint"] == "f2"
    assert store.load_state("searcher") == {"n": 3} and store.load_state("other") is None
    # A failing record leaves pending and state untouched.
    with pytest.raises(RunStoreError):
        store.record("x", "f1", _result(0.1), task="digits", trial_id="t2", state=("searcher", {"n": 4}))
    assert len(store.pending()) == 1 and store.load_state("searcher") == {"n": 3}


def test_transaction_groups_writes(tmp_path):
    store = RunStore(tmp_path)
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.add_pending("t1", {"expression": "x"}, task="digits")
            store.record_invalid("x - x", "f-const", "constant", task="digits")
            raise RuntimeError("driver dies mid-way")
    assert store.pending() == [] and store.candidates() == []
    with store.transaction():
        store.add_pending("t1", {"expression": "x"}, task="digits")
        store.record_invalid("x - x", "f-const", "constant", task="digits")
    assert len(store.pending()) == 1 and len(RunStore(tmp_path, readonly=True).candidates()) == 1


def test_second_writer_is_refused_readers_are_not(tmp_path):
    store = RunStore(tmp_path)
    with pytest.raises(RunStoreError, match="in use"):
        RunStore(tmp_path)
    RunStore(tmp_path, readonly=True).candidates()
    store.close()
    RunStore(tmp_path).close()


def test_reader_never_blocks_the_writer(tmp_path):
    writer = RunStore(tmp_path)
    writer.record("x", "f0", _result(0.1), task="digits", trial_id="t0")
    seen: list[int] = []
    stop = threading.Event()

    def read() -> None:
        reader = RunStore(tmp_path, readonly=True)
        while not stop.is_set():
            # An open read transaction (a snapshot) held while the writer commits.
            reader._db.execute("BEGIN")
            seen.append(len(reader.candidates()))
            reader._db.execute("COMMIT")

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for i in range(1, 60):
            writer.record(f"x + {i}", f"f{i}", _result(0.1), task="digits", trial_id=f"t{i}")
    finally:
        stop.set()
        thread.join()
    assert writer.count() == 60 and len(RunStore(tmp_path, readonly=True).candidates()) == 60
    assert seen and seen == sorted(seen)  # readers only ever see whole, growing snapshots


def test_missing_store_for_reader(tmp_path):
    with pytest.raises(RunStoreError, match="no run store"):
        RunStore(tmp_path / "nope", readonly=True)


def test_full_disk_gives_clear_error_and_keeps_stored_rows(tmp_path):
    store = RunStore(tmp_path)
    store.record("x", "f0", _result(0.3), task="digits", trial_id="t0")
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count={pages + 2}")  # a disk with room for ~2 more pages
    big = _result(0.5, seeds=range(400))
    with pytest.raises(RunStoreError, match="full"):
        for i in range(1, 50):
            store.record(f"x + {i}", f"f{i}", big, task="digits", trial_id=f"t{i}")
    stored = RunStore(tmp_path, readonly=True).candidates()
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
            RunStore(run).save_state("s", {"a": 1})
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
        with RunStore(run) as store:
            store.record("x", "f0", _result(0.3), task="digits")
        for name in os.listdir(run):
            os.chmod(os.path.join(run, name), 0o444)
        os.chmod(run, 0o555)
        seen = _try_write_as_other_user(run)
        assert seen.startswith("USERERROR") and "\n" not in seen, seen
        assert [r.expression for r in RunStore(run, readonly=True).candidates()] == ["x"]
    finally:
        os.chmod(os.path.join(base, "run"), 0o755)
        shutil.rmtree(base)
