"""End-to-end faults: a SIGKILLed driver resumed from the store; a multi-node Ray cluster."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from actsearch.results.store import SqliteStore
from actsearch.search.infra.node import NODE_FILE, _holds_files_in

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "actsearch.cli"]


def _left_behind(raylets: list[int], session_dir: str) -> list[int]:
    """Live ``ray::`` processes of a Ray node: spawned by one of ``raylets`` or writing to files in
    its ``session_dir`` (zombies do not count)."""
    out = []
    for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace")
            env = open(f"/proc/{pid}/environ", "rb").read().decode(errors="replace").split("\0")
            state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if cmd.startswith("ray::") and state != "Z":
            if any(f"RAY_RAYLET_PID={r}" in env for r in raylets) or _holds_files_in(pid, session_dir):
                out.append(pid)
    return out


def _evaluated(run_dir):
    return [r for r in SqliteStore(run_dir, readonly=True).candidates(role="search") if r.trained]


def _start_and_stop(run, sig: int, *extra: str) -> subprocess.Popen:
    """Start `actsearch search` (budget 10) and send ``sig`` to the driver once 3 results are stored."""
    args = ["search", "--space", "quick", "--searcher", "evolution", "--task", "digits", "--steps", "150",
            "--budget", "10", "--workers", "2", "--run-dir", str(run), "--plain", *extra]
    driver = subprocess.Popen(CLI + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if (run / "run.sqlite").exists() and len(_evaluated(run)) >= 3:
                break
            assert driver.poll() is None, driver.stderr.read().decode()
            time.sleep(0.2)
        os.kill(driver.pid, sig)  # the driver only (with SIGKILL its Ray processes are left behind)
        driver.wait(timeout=120)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    return driver


def test_interrupted_driver_exits_130_and_resumes(tmp_path):
    run = tmp_path / "run"
    driver = _start_and_stop(run, signal.SIGINT, "--references", "")
    err = driver.stderr.read().decode()
    assert driver.returncode == 130 and "actsearch resume" in err and "Traceback" not in err, err
    assert 3 <= len(_evaluated(run)) < 10
    out = subprocess.run(CLI + ["resume", str(run), "--plain"], capture_output=True, text=True, timeout=300)
    rows = _evaluated(run)
    assert out.returncode == 0 and len(rows) == 10 and len({r.fingerprint for r in rows}) == 10, out.stderr


def test_sigkilled_driver_resumes_to_exactly_the_budget(tmp_path):
    run = tmp_path / "run"
    _start_and_stop(run, signal.SIGKILL, "--references", "relu")
    before = _evaluated(run)
    assert 3 <= len(before) < 10
    store = SqliteStore(run, readonly=True)
    assert store.pending(), "a killed driver leaves the proposals it had handed out"
    node = json.loads((run / NODE_FILE).read_text())
    out = subprocess.run(CLI + ["resume", str(run), "--plain"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "warning: ignoring" not in out.stderr  # the driver's own record passes every ownership check
    # what the killed driver's Ray left behind was ended by the resume
    # (Ray's agents carry neither the token nor RAY_RAYLET_PID, so no record proves them ours: they
    # shut themselves down when they notice the dead raylet, which can take some seconds.)
    deadline = time.monotonic() + 60
    while _left_behind(node["raylet"], node["session_dir"]) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _left_behind(node["raylet"], node["session_dir"]) == []
    rows = _evaluated(run)
    assert len(rows) == 10 and len({r.fingerprint for r in rows}) == 10 and len({r.trial for r in rows}) == 10
    assert {(r.id, r.fingerprint) for r in before} <= {(r.id, r.fingerprint) for r in rows}  # nothing lost
    assert SqliteStore(run, readonly=True).pending() == []
    assert SqliteStore(run, readonly=True).count(role="reference") == 1


def test_search_on_a_multi_node_cluster(tmp_path):
    import ray
    from ray.cluster_utils import Cluster

    from actsearch.search.rundir.run import run
    from actsearch.search.rundir.spec import SearchSpec

    assert not ray.is_initialized()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        spec = SearchSpec(space="quick", searcher="random", task="digits", budget=6, workers=2,
                          address=cluster.address, task_overrides={"steps": 150}, references=())
        summary = run(spec, tmp_path)[0]
        rows = _evaluated(tmp_path)
        assert summary.finished and len(rows) == 6 and len({r.fingerprint for r in rows}) == 6
        nodes = {r.metrics.get("node") for r in rows}
        assert len(nodes) == 2 and None not in nodes  # trials ran on both nodes
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()
