"""Ray plumbing without a search: address probing, stale-process cleanup, CLI errors."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from actsearch.search.runner.cluster import NODE_FILE, AddressError, clean_stale_node, probe_address


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_probe_fails_fast_where_nothing_listens():
    start = time.monotonic()
    with pytest.raises(AddressError, match="no Ray head node answers"):
        probe_address(f"127.0.0.1:{_free_port()}", timeout=2)
    assert time.monotonic() - start < 5
    for bad in ("localhost", "host:port", ":6379", "ray://h:10001"):
        with pytest.raises(AddressError):
            probe_address(bad)


def test_probe_accepts_a_listening_port():
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        assert probe_address(f"127.0.0.1:{srv.getsockname()[1]}") == ("127.0.0.1", srv.getsockname()[1])


def _fake_ray_process(raylet_pid: str) -> subprocess.Popen:
    env = {**os.environ, "RAY_RAYLET_PID": raylet_pid}
    return subprocess.Popen(["bash", "-c", "exec -a ray::DashboardAgent sleep 60"], env=env)


def test_stale_processes_of_a_dead_driver_are_cleaned(tmp_path):
    dead_driver = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_driver.wait()
    ours, other = _fake_ray_process("424242"), _fake_ray_process("434343")
    try:
        time.sleep(0.3)
        (tmp_path / NODE_FILE).write_text(json.dumps(
            {"session_dir": "/tmp/ray/session_x", "pids": [], "raylet": [424242], "driver": dead_driver.pid}))
        killed = clean_stale_node(tmp_path)
        assert killed == [ours.pid]
        assert ours.wait(timeout=5) == -9 and other.poll() is None
        assert not (tmp_path / NODE_FILE).exists()
    finally:
        for p in (ours, other):
            if p.poll() is None:
                p.kill()
                p.wait()


def test_a_live_driver_is_left_alone(tmp_path):
    proc = _fake_ray_process("454545")
    try:
        (tmp_path / NODE_FILE).write_text(json.dumps({"raylet": [454545], "driver": os.getpid()}))
        assert clean_stale_node(tmp_path) == [] and proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


def _cli(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """Run the real console entry point in-process; returns (exit status, stderr)."""
    from actsearch.cli import main

    monkeypatch.setattr(sys, "argv", ["actsearch", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code, capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--space", "no-such-space", "--budget", "2"], "no space preset or file"),
    (["--space", "quick", "--searcher", "annealing", "--budget", "2"], "unknown searcher"),
    (["--space", "quick", "--task", "imagenet", "--budget", "2"], "unknown task"),
    (["--space", "quick", "--budget", "2", "--address", "127.0.0.1:{port}"], "no Ray head node answers"),
])
def test_search_user_errors_are_one_line(monkeypatch, capsys, tmp_path, args, message):
    args = [a.replace("{port}", str(_free_port())) for a in args]
    code, err = _cli(monkeypatch, capsys, "search", *args, "--run-dir", str(tmp_path / "run"))
    assert code == 2 and err.startswith("error: ") and message in err
    assert err.count("\n") == 1 and not (tmp_path / "run").exists()


def test_bad_toml_and_foreign_run_dir(monkeypatch, capsys, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("unary = [")
    code, err = _cli(monkeypatch, capsys, "search", "--space", str(bad), "--budget", "2", "--run-dir",
                     str(tmp_path / "r"))
    assert code == 2 and "bad TOML" in err and err.count("\n") == 1
    from actsearch.results.store import SqliteStore
    from actsearch.search.runner.spec import SearchSpec, prepare

    prepare(SearchSpec(space="quick", searcher="random", task="digits"), tmp_path / "r").close()
    common = ["--searcher", "random", "--task", "digits", "--budget", "2", "--run-dir", str(tmp_path / "r")]
    code, err = _cli(monkeypatch, capsys, "search", "--space", "x-gated", *common, "--resume")
    assert code == 2 and "belongs to a different search" in err
    code, err = _cli(monkeypatch, capsys, "search", "--space", "quick", *common)
    assert code == 2 and "already holds a search" in err
    code, err = _cli(monkeypatch, capsys, "resume", str(tmp_path / "nothing"))
    assert code == 2 and "nothing to resume" in err
    assert SqliteStore(tmp_path / "r", readonly=True).meta()["space"] == "quick"  # untouched
