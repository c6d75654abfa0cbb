"""Cleaning up after a killed driver: a run directory's ``ray-node.json`` is data, never authority.

Fake node processes stand in for Ray's (``exec -a ray::...``): only those that carry the node's token
in their environment, started after the node, and belong to its session directory are killed;
crafted records (an empty or foreign session directory, unrelated pids, another session's
``ray::`` workers) touch nothing. The real leftovers of a SIGKILLed driver are checked end to end in
``test_run_faults.py``.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

from actsearch.search.infra.node import NODE_FILE, RUN_DIR_VAR, TOKEN_VAR, clean_stale_node

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier


def _session(root: Path, name: str = "session_2026-12-01_10-00-00_123456_4242") -> Path:
    sd = root / name
    (sd / "logs").mkdir(parents=True)
    (sd / "sockets").mkdir()
    return sd


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _spawn(name: str, *, run: Path, token: str | None = None, hold: Path | None = None,
           args: str = "") -> subprocess.Popen:
    """``sleep`` renamed ``name``, with ``TOKEN_VAR=token`` and the run directory ``run`` (its real
    path, as ``start_ray`` sets it) in its environment and ``hold`` open."""
    env = {k: v for k, v in os.environ.items() if k not in (TOKEN_VAR, RUN_DIR_VAR)}
    env[RUN_DIR_VAR] = os.path.realpath(run)
    if token is not None:
        env[TOKEN_VAR] = token
    redirect = f"exec 3>>{hold}; " if hold is not None else ""
    sleep = f"{sys.executable} -c 'import time; time.sleep(60)'"
    return subprocess.Popen(["bash", "-c", f"{redirect}exec -a {name} {sleep} {args}"], env=env)


def _record(run: Path, sd: Path | str, token: str, pids: list[int], started: float | None = None, **extra) -> None:
    info = {"session_dir": str(sd), "token": token, "pids": pids, "raylet": pids[:1], "driver": _dead_pid(),
            "started": time.time() - 5 if started is None else started, **extra}
    (run / NODE_FILE).write_text(json.dumps(info))


@pytest.fixture
def procs():
    started: list[subprocess.Popen] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
            p.wait()


def _settle() -> None:
    time.sleep(0.3)  # the renamed processes have exec'd


def test_the_nodes_own_leftovers_are_killed(tmp_path, procs):
    sd, token = _session(tmp_path), secrets.token_hex(16)
    worker = _spawn("ray::IDLE", run=tmp_path, token=token, hold=sd / "logs" / "worker.out")
    raylet = _spawn("raylet", run=tmp_path, token=token, args=f"--session_dir={sd}")
    procs += [worker, raylet]
    _settle()
    _record(tmp_path, sd, token, [raylet.pid])
    killed = clean_stale_node(tmp_path)
    assert sorted(killed) == sorted([worker.pid, raylet.pid])
    assert worker.wait(timeout=5) == -9 and raylet.wait(timeout=5) == -9
    assert not (tmp_path / NODE_FILE).exists()


def test_an_empty_session_dir_touches_nothing(tmp_path, procs):
    token = secrets.token_hex(16)
    victim = _spawn("sleep", run=tmp_path, token=token)  # its command line contains "" like every other
    procs.append(victim)
    _settle()
    _record(tmp_path, "", token, [victim.pid])
    notes: list[str] = []
    assert clean_stale_node(tmp_path, note=notes.append) == []
    assert victim.poll() is None
    assert len(notes) == 1 and "session_dir" in notes[0] and "\n" not in notes[0]
    assert (tmp_path / NODE_FILE).exists()  # ignored, not acted on


@pytest.mark.parametrize("where", ["tmp-root", "no-layout", "relative", "symlink"])
def test_a_session_dir_that_is_not_a_ray_session_touches_nothing(tmp_path, procs, where):
    token = secrets.token_hex(16)
    real = _session(tmp_path / "real")
    sd = {"tmp-root": tmp_path, "no-layout": tmp_path / "session_2026-12-01_10-00-00_1_2",
          "relative": Path("session_2026-12-01_10-00-00_1_2"), "symlink": tmp_path / "session_2026-12-01_10-00-00_9_9"}[where]
    if where == "no-layout":
        sd.mkdir()
    if where == "symlink":
        sd.symlink_to(real)
    worker = _spawn("ray::IDLE", run=tmp_path, token=token, hold=real / "logs" / "w.out")
    procs.append(worker)
    _settle()
    _record(tmp_path, sd, token, [worker.pid])
    notes: list[str] = []
    assert clean_stale_node(tmp_path, note=notes.append) == []
    assert worker.poll() is None and len(notes) == 1


def test_a_listed_pid_of_an_unrelated_process_is_not_touched(tmp_path, procs):
    sd, token = _session(tmp_path), secrets.token_hex(16)
    unrelated = _spawn("sleep", run=tmp_path, args=f"--session_dir={sd}")  # names the session, lacks the token
    procs.append(unrelated)
    _settle()
    _record(tmp_path, sd, token, [unrelated.pid, os.getpid()])
    assert clean_stale_node(tmp_path) == []
    assert unrelated.poll() is None


def test_ray_workers_of_another_session_are_not_touched(tmp_path, procs):
    ours, theirs = _session(tmp_path / "a"), _session(tmp_path / "b", "session_2026-12-01_11-00-00_1_77")
    token = secrets.token_hex(16)
    other_token = secrets.token_hex(16)
    foreign = _spawn("ray::IDLE", run=tmp_path, token=other_token, hold=ours / "logs" / "x.out")  # in our dir, not our node
    other = _spawn("ray::IDLE", run=tmp_path, token=token, hold=theirs / "logs" / "y.out")  # our token, another session
    plain = _spawn("ray::IDLE", run=tmp_path, hold=ours / "logs" / "z.out")  # no token at all
    procs += [foreign, other, plain]
    _settle()
    _record(tmp_path, ours, token, [])
    assert clean_stale_node(tmp_path) == []
    assert all(p.poll() is None for p in (foreign, other, plain))


def test_processes_older_than_the_node_are_not_touched(tmp_path, procs):
    sd, token = _session(tmp_path), secrets.token_hex(16)
    old = _spawn("ray::IDLE", run=tmp_path, token=token, hold=sd / "logs" / "w.out")
    procs.append(old)
    _settle()
    _record(tmp_path, sd, token, [], started=time.time() + 30)  # a node recorded as started later
    assert clean_stale_node(tmp_path) == []
    assert old.poll() is None


@pytest.mark.parametrize("text", ["", "[]", "{", '{"session_dir": 5}', "null", '"x"',
                                  '{"session_dir": "/tmp", "token": "zz", "pids": "1", "driver": true}'])
def test_malformed_records_are_ignored_in_one_line(tmp_path, text):
    (tmp_path / NODE_FILE).write_text(text)
    notes: list[str] = []
    assert clean_stale_node(tmp_path, note=notes.append) == []
    assert len(notes) == 1 and notes[0].startswith("warning: ignoring")


def test_a_live_driver_is_left_alone(tmp_path, procs):
    sd, token = _session(tmp_path), secrets.token_hex(16)
    worker = _spawn("ray::IDLE", run=tmp_path, token=token, hold=sd / "logs" / "w.out")
    procs.append(worker)
    _settle()
    _record(tmp_path, sd, token, [])
    info = json.loads((tmp_path / NODE_FILE).read_text())
    (tmp_path / NODE_FILE).write_text(json.dumps({**info, "driver": os.getpid()}))
    assert clean_stale_node(tmp_path) == [] and worker.poll() is None


def test_a_record_copied_into_another_run_dir_kills_nothing(tmp_path, procs):
    """S1: the token is in the record, so a copy of a live run's record carries it; the processes
    also carry their own run directory's path, which the copy's directory is not."""
    run_a, run_b = tmp_path / "a", tmp_path / "b"
    run_a.mkdir()
    run_b.mkdir()
    sd, token = _session(tmp_path), secrets.token_hex(16)
    worker = _spawn("ray::IDLE", run=run_a, token=token, hold=sd / "logs" / "worker.out")
    raylet = _spawn("raylet", run=run_a, token=token, args=f"--session_dir={sd}")
    procs += [worker, raylet]
    _settle()
    _record(run_b, sd, token, [raylet.pid])
    assert clean_stale_node(run_b) == []
    assert worker.poll() is None and raylet.poll() is None
    _record(run_a, sd, token, [raylet.pid])  # the same record in the directory that started them
    assert sorted(clean_stale_node(run_a)) == sorted([worker.pid, raylet.pid])


@pytest.mark.parametrize("kind", ["symlink", "fifo", "foreign-owner"])
def test_a_record_that_is_not_this_users_own_file_is_refused(tmp_path, procs, kind):
    """S1: a symlinked record, a FIFO or another user's file is ignored in one line, not read."""
    sd, token = _session(tmp_path), secrets.token_hex(16)
    worker = _spawn("ray::IDLE", run=tmp_path, token=token, hold=sd / "logs" / "worker.out")
    procs.append(worker)
    _settle()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _record(elsewhere, sd, token, [])
    path = tmp_path / NODE_FILE
    if kind == "symlink":
        path.symlink_to(elsewhere / NODE_FILE)
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        if os.getuid() != 0:
            pytest.skip("giving a file to another user needs root")
        _record(tmp_path, sd, token, [])
        os.chown(path, 65534, 65534)
    notes: list[str] = []
    assert clean_stale_node(tmp_path, note=notes.append) == []
    assert worker.poll() is None and len(notes) == 1 and notes[0].startswith("warning: ignoring")


NODE_SCRIPT = """
import sys, time
from actsearch.search.infra.cluster import start_ray
start_ray(None, 1, run_dir=sys.argv[1])
print("ready", flush=True)
time.sleep(600)
"""


def test_a_live_runs_copied_record_spares_its_node_and_its_own_stale_node_is_ended(tmp_path):
    """S1 end to end: a real embedded node of run A (driver alive); A's record copied to B with a
    dead driver: cleaning B kills nothing of A's node. Once A's driver is killed, cleaning A ends
    what it left behind. The record is written 0600."""
    from actsearch.search.infra.node import _alive

    run_a, run_b = tmp_path / "a", tmp_path / "b"
    run_a.mkdir()
    run_b.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in (TOKEN_VAR, RUN_DIR_VAR, "RAY_ADDRESS")}
    driver = subprocess.Popen([sys.executable, "-c", NODE_SCRIPT, str(run_a)], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, env=env, start_new_session=True)
    node: list[int] = []
    try:
        assert driver.stdout.readline().strip() == "ready"
        record = run_a / NODE_FILE
        assert record.stat().st_mode & 0o777 == 0o600
        info = json.loads(record.read_text())
        node = info["pids"]
        assert node and all(_alive(p) for p in node)
        (run_b / NODE_FILE).write_text(json.dumps({**info, "driver": _dead_pid()}))
        assert clean_stale_node(run_b) == []
        assert all(_alive(p) for p in node), "a copied record must not end another run's node"
        driver.kill()
        driver.wait(timeout=30)
        killed = clean_stale_node(run_a)
        # Node processes that notice their driver's death exit by themselves, and one caught exiting
        # (its environment no longer readable) is not killed: cleaning kills what is left of the node
        # (its workers and agents, recorded or not), and all of it ends soon.
        assert killed
        deadline = time.monotonic() + 30
        while any(_alive(p) for p in [*node, *killed]) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(p) for p in [*node, *killed])
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
        for pid in node:  # what this test's node left, should an assertion above have failed
            if _alive(pid):
                os.kill(pid, 9)
