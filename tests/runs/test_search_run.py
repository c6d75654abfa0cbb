"""Searches on a real local Ray (2 CPUs) with real training on digits, stored in real SQLite."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from actsearch.results.store import RunStoreError, SqliteStore
from actsearch.search.rundir.run import run
from actsearch.search.rundir.spec import SearchSpec, prepare

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

TINY = {"steps": 20}  # digits with a handful of steps: real training well under a second



def _run_search(spec, run_dir, **kw):
    """One search on the Ray executor; its summary."""
    return run(spec, run_dir, **kw)[0]


def _spec(**kw) -> SearchSpec:
    base = {"space": "quick", "searcher": "random", "task": "digits", "budget": 6, "workers": 2,
            "task_overrides": dict(TINY), "references": ()}
    return SearchSpec(**{**base, **kw})


def _evaluated(run_dir):
    return [r for r in SqliteStore(run_dir, readonly=True).candidates(role="search") if r.trained]


def test_budget_then_resume_with_more_budget_under_asha(local_ray, tmp_path):
    events = []
    first = _run_search(_spec(searcher="evolution", budget=5, references=("relu",)), tmp_path,
                       on_event=events.append)
    assert first.finished and not first.interrupted and first.evaluated == 5
    assert [e.role for e in events].count("reference") == 1 and len(events) == 6
    # The scheduler is not part of a search's identity: the rest runs with ASHA stopping weak trials.
    again = _run_search(_spec(searcher="evolution", budget=9, references=("relu",), scheduler="asha",
                             task_overrides=dict(TINY)), tmp_path, resume=True)
    rows = _evaluated(tmp_path)
    assert again.evaluated == 9 and again.new == 4 and len(rows) == 9
    assert len({r.fingerprint for r in rows}) == 9 and len({r.trial for r in rows}) == 9
    # The restored searcher continued its own sequence of proposal ids; relu was not evaluated again.
    steps = [r.step for r in sorted(rows, key=lambda r: r.trial)]
    assert steps == sorted(set(steps)) and sorted(r.trial for r in rows) == sorted(set(r.trial for r in rows))
    store = SqliteStore(tmp_path, readonly=True)
    assert store.count(role="reference") == 1 and store.pending() == []
    assert store.meta()["budget"] == 9 and store.meta()["searcher"] == "evolution"
    assert all(r.status in ("ok", "diverged", "error") and r.runs for r in rows[:5])
    assert {r.status for r in rows} <= {"ok", "stopped", "diverged", "error"}
    assert all(0.0 <= r.score <= 1.0 for r in rows if r.status == "stopped")  # last reported score kept


def _ray_workers(raylet_pid: int) -> list[int]:
    """Trial worker processes of our local Ray node (by the raylet that spawned them)."""
    out = []
    for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace")
            env = open(f"/proc/{pid}/environ", "rb").read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if cmd.startswith("ray::ImplicitFunc") and f"RAY_RAYLET_PID={raylet_pid}" in env:
            out.append(pid)
    return out


def _cpu_ticks(pid: int) -> int:
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def test_killed_worker_is_retried_and_recorded_once(local_ray, tmp_path):
    import ray

    raylet = ray._private.worker._global_node.all_processes["raylet"][0].process.pid
    killed: list[int] = []
    earlier = set(_ray_workers(raylet))  # actors of earlier searches may still be shutting down

    def kill_one_worker() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            # wait until a trial has been running a moment, then kill its worker process
            try:  # a trial is running once its proposal is pending in the store
                running = bool(SqliteStore(tmp_path, readonly=True).pending())
            except RunStoreError:  # not created yet
                running = False
            if running:
                before = {pid: _cpu_ticks(pid) for pid in _ray_workers(raylet) if pid not in earlier}
                time.sleep(0.3)
                busy = sorted(before, key=lambda pid: before[pid] - _cpu_ticks(pid))  # training = CPU
                if busy and _cpu_ticks(busy[0]) > before[busy[0]]:
                    os.kill(busy[0], signal.SIGKILL)
                    killed.append(busy[0])
            time.sleep(0.1)

    killer = threading.Thread(target=kill_one_worker, daemon=True)
    killer.start()
    summary = _run_search(_spec(budget=4, task_overrides={"steps": 1000}), tmp_path)
    killer.join()
    rows = _evaluated(tmp_path)
    assert killed, "no trial worker was found to kill"
    assert summary.finished and len(rows) == 4 and len({r.fingerprint for r in rows}) == 4
    assert sum(r.retries for r in rows) >= 1
    assert all(r.status == "ok" for r in rows)  # the retried trial finished normally


def test_exhaustive_quick_stores_every_distinct_candidate_once(local_ray, tmp_path):
    from collections import Counter

    from actsearch.search.space.dedup import analyse
    from actsearch.search.space.files import load_space

    space = load_space("quick")
    per_fp: Counter = Counter()  # distinct texts per fingerprint (candidates may share a text)
    texts: set[str] = set()
    trivial: set[str] = set()
    first: dict[str, tuple] = {}
    for cand in space.enumerate():
        text, params = space.to_text(cand)
        fp, reason = analyse(text, params)
        per_fp[fp] += text not in texts
        texts.add(text)
        first.setdefault(fp, (text, params))
        if reason:
            trivial.add(fp)
    # The pre-screen (on by default) rejects what explodes at initialisation: stored invalid, untrained.
    from actsearch.evaluators import get_task
    from actsearch.grammar import parse
    from actsearch.search.screening.prescreen import PreScreen

    screen = PreScreen(get_task("digits", **TINY))
    screened = {fp for fp in set(per_fp) - trivial if screen(parse(first[fp][0], **first[fp][1]))}
    assert 0 < len(screened) < 5
    expected = set(per_fp) - trivial - screened
    summary = _run_search(_spec(searcher="exhaustive", budget=10_000, references=("relu", "swish")), tmp_path)
    store = SqliteStore(tmp_path, readonly=True)
    rows = store.candidates(role="search")
    evaluated = [r for r in rows if r.trained]
    assert summary.finished and not summary.interrupted and summary.evaluated == len(expected)
    assert {r.fingerprint for r in evaluated} == expected and len(evaluated) == len(expected)
    # Every other text of a function is an alias row of its stored twin; trivial and screened ones are stored once.
    aliases = [r for r in rows if r.alias_of is not None]
    by_id = {r.id: r for r in rows}
    assert all(by_id[a.alias_of].fingerprint == a.fingerprint for a in aliases)
    assert len(aliases) == sum(per_fp[fp] - 1 for fp in expected | screened)
    invalid = [r for r in rows if r.status == "invalid" and not r.trained and r.alias_of is None]
    assert {r.fingerprint for r in invalid} == trivial | screened and len(invalid) == len(trivial | screened)
    assert all(r.error.startswith("pre-screen: ") for r in invalid if r.fingerprint in screened)
    assert store.count(role="reference") == 2 and store.pending() == []


def test_searcher_options_from_the_cli_are_stored_and_kept_on_resume(local_ray, tmp_path):
    from pathlib import Path

    from typer.testing import CliRunner

    from actsearch.cli import app
    from actsearch.commands.common import parse_options
    from actsearch.errors import UserError

    assert parse_options(["temperature=0", "population_size=4", "kappa=0.5", "prescreen=False", "task=digits"]) == {
        "temperature": 0, "population_size": 4, "kappa": 0.5, "prescreen": False, "task": "digits"}
    table = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "x-gated-mnist1d.csv"
    run = tmp_path / "run"
    args = ["search", "--space", "x-gated", "--searcher", "evolution", "--task", f"table:{table}", "--budget", "8",
            "--option", "temperature=0", "-O", "population_size=4", "--references", "", "--plain"]
    result = CliRunner().invoke(app, [*args, "--run-dir", str(run)])
    assert result.exit_code == 0, result.output
    meta = SqliteStore(run, readonly=True).meta()
    assert meta["spec"]["searcher_options"] == {"temperature": 0, "population_size": 4}
    assert len(_evaluated(run)) == 8
    assert len({r.fingerprint for r in _evaluated(run)}) == 8
    # Another option on resume is another search; the stored one continues.
    other_args = [a.replace("population_size=4", "population_size=5") for a in args]  # a key given twice is refused
    other = CliRunner().invoke(app, [*other_args, "--run-dir", str(run)])
    assert isinstance(other.exception, UserError) and "actsearch resume" in str(other.exception)
    other_spec = SearchSpec(space="x-gated", searcher="evolution", task=f"table:{table}", budget=8, references=(),
                            searcher_options={"temperature": 0, "population_size": 5})
    with pytest.raises(UserError, match="searcher_options"):  # the Python API's resume=True
        prepare(other_spec, run, resume=True)
    again = CliRunner().invoke(app, ["resume", str(run), "--budget", "10", "--plain"])
    assert again.exit_code == 0, again.output
    assert len(_evaluated(run)) == 10
    for bad, message in ((["-O", "temperature=hot"], "bad option"), (["-O", "bogus=1"], "unexpected keyword"),
                         (["-O", "noequals"], "NAME=VALUE")):
        base = [a for a in args if a != "temperature=0" and a != "--option"]  # a key given twice is refused
        res = CliRunner().invoke(app, [*base, "--run-dir", str(tmp_path / "bad"), *bad])
        assert isinstance(res.exception, UserError) and message in str(res.exception)  # main() prints one line
        assert not (tmp_path / "bad").exists()
