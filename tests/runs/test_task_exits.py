"""Task code that exits, interrupts itself or hangs (W3, H6): ``actsearch evaluate`` on a task
file says so in one line (exit 2) or records the seed's failure with its cause; a search on real
Ray stores a trial whose task called ``sys.exit`` (or raised ``KeyboardInterrupt``) as a normal
failure naming the call, with no retries, and one whose worker process died (``os._exit``) with a
cause saying the worker died. Real CLI, real Ray (the module's local one), real SQLite."""

from __future__ import annotations

import json
import time

import pytest

from actsearch.results.store import SqliteStore
from actsearch.search.rundir.run import run
from actsearch.search.rundir.spec import SearchSpec
from tests.helpers.cli import error_lines, run_cli

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

TASKS = '''
import os
import sys
import time

import torch


def ok(act, seed, report):
    return 0.5


def exits_zero(act, seed, report):
    sys.exit(0)


def exits(act, seed, report):
    sys.exit(3)


def interrupts(act, seed, report):
    raise KeyboardInterrupt


def dies(act, seed, report):
    os._exit(1)


def climbs(act, seed, report):
    """A score that depends on the candidate, reported 30 times: ASHA stops the weaker trials."""
    base = float(torch.tanh(act()(torch.linspace(-2, 2, 32)).abs().mean()))
    for step in range(1, 31):
        time.sleep(0.01)
        report(step, base * step / 30)
    return base
'''


@pytest.fixture
def tasks(tmp_path):
    path = tmp_path / "exiting_tasks.py"
    path.write_text(TASKS)
    return path


@pytest.mark.parametrize(("name", "code"), [("exits_zero", "0"), ("exits", "3")])
def test_evaluate_records_a_seed_that_calls_sys_exit(tasks, name, code):
    """W3: sys.exit(0) while training used to end `evaluate` with status 0 and no result."""
    status, out, err = run_cli("evaluate", "relu", "--task", f"{tasks}:{name}", "--seeds", "2", "--json")
    assert status == 0, err
    res = json.loads(out)
    assert res["status"] == "error" and [r["status"] for r in res["runs"]] == ["error", "error"]
    assert {r["error"] for r in res["runs"]} == {f"the task called sys.exit({code})"}


@pytest.mark.parametrize(("head", "words"), [
    ("import sys\nsys.exit(7)", "called sys.exit(7) at import"),
    ("import sys\nsys.exit(0)", "called sys.exit(0) at import"),
    ("raise KeyboardInterrupt", "raised KeyboardInterrupt at import"),
])
def test_evaluate_refuses_a_task_file_that_exits_at_import(tmp_path, head, words):
    """W3: SystemExit(7) at import used to exit 7 silently."""
    path = tmp_path / "exits_at_import.py"
    path.write_text(f"{head}\n\ndef fit(act, seed, report):\n    return 0.5\n")
    status, out, err = run_cli("evaluate", "relu", "--task", f"{path}:fit")
    assert status == 2 and error_lines(err) == [f"error: task file {path} {words}"], err


def test_evaluate_stops_a_task_file_that_hangs_at_import_at_the_time_limit(tmp_path):
    """H6: a task file that never finishes importing is bounded by --time-limit."""
    path = tmp_path / "hangs_at_import.py"
    path.write_text("import time\n\ntime.sleep(1000)\n\n\ndef fit(act, seed, report):\n    return 0.5\n")
    start = time.perf_counter()
    status, out, err = run_cli("evaluate", "relu", "--task", f"{path}:fit", "--time-limit", "1")
    assert time.perf_counter() - start < 30
    assert status == 2 and error_lines(err) == [f"error: task file {path} did not finish importing within 1 s"]


def test_search_stops_a_task_file_that_hangs_at_import_before_anything_is_written(tmp_path):
    """H6: the same for `search` (the driver imports the task before the store is created)."""
    path = tmp_path / "spins_at_import.py"
    path.write_text("while True:\n    pass\n\n\ndef fit(act, seed, report):\n    return 0.5\n")
    status, out, err = run_cli("search", "--space", "quick", "--searcher", "random", "--task", f"{path}:fit",
                               "--budget", "1", "--time-limit", "1", "--run-dir", str(tmp_path / "run"), "--plain")
    assert status == 2 and error_lines(err) == [f"error: task file {path} did not finish importing within 1 s"]
    assert not (tmp_path / "run" / "run.sqlite").exists()


def _search(tasks, name, run_dir, **more):
    spec = SearchSpec(space="quick", searcher="random", task=f"{tasks}:{name}", workers=1, references=(),
                      **{"budget": 1, **more})
    run(spec, run_dir)
    with SqliteStore(run_dir, readonly=True) as store:
        return [r for r in store.candidates(role="search") if r.trained]


@pytest.mark.parametrize(("name", "words"), [("exits", "the task called sys.exit(3)"),
                                             ("interrupts", "the task raised KeyboardInterrupt")])
def test_ray_stores_a_task_exit_as_a_failure_with_its_cause(local_ray, tasks, tmp_path, name, words):
    """W3: under Ray, sys.exit and KeyboardInterrupt from task code were stored only as "trial failed
    in Ray" after two retries; now as the trial's failure, with the call, and not retried."""
    (row,) = _search(tasks, name, tmp_path / "run")
    assert row.status == "error" and row.retries == 0
    assert {r["error"] for r in row.runs} == {words}


@pytest.mark.slow
def test_ray_stores_a_dead_worker_with_a_cause(local_ray, tasks, tmp_path):
    """W3: a worker process that ends itself (os._exit) is stored with a cause saying so."""
    (row,) = _search(tasks, "dies", tmp_path / "run")
    assert row.status == "error"
    errors = {r["error"] for r in row.runs}
    assert len(errors) == 1 and "worker process running the trial died" in errors.pop()


def test_a_trial_that_asha_stops_is_stopped_not_a_task_exit(local_ray, tasks, tmp_path):
    """Ray stops a trial with SystemExit(0) from inside tune.report: that is the scheduler's stop,
    never "the task called sys.exit(0)"."""
    rows = _search(tasks, "climbs", tmp_path / "run", budget=8, scheduler="asha")
    assert len(rows) == 8 and {r.status for r in rows} <= {"ok", "stopped"}, [(r.status, r.error) for r in rows]
    assert any(r.status == "stopped" for r in rows)
