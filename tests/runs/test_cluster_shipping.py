"""A user's task file travels to a real 2-node Ray cluster on 127.0.0.1 (``ray start``), where it
exists only in the driver's directory: every trial is ok, trials ran on both nodes, and each ran
the copy Ray shipped (never the driver's path), neighbour module included; then the same for a
``package.module:NAME`` task whose package only the driver's directory holds.

The nodes can import actsearch (PYTHONPATH) but not the task: they start in an empty directory.
Each node gets its own --temp-dir and free ports; teardown kills only the processes that carry
this test's random token in their environment (other Ray clusters on the machine are left alone).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from actsearch.results.store import SqliteStore

ROOT = Path(__file__).resolve().parents[2]
RAY = str(Path(sys.executable).with_name("ray"))
TOKEN_VAR = "ACTSEARCH_TEST_CLUSTER"

TASK = '''
import os

import torch
from torch import nn

from helper import TARGET  # a neighbour module: travels with the file's directory


def fit(act, seed, report):
    """A small MLP fitted to TARGET for a second or so: score = minus the final loss."""
    torch.manual_seed(seed)
    x = torch.linspace(-2, 2, 128).unsqueeze(1)
    net = nn.Sequential(nn.Linear(1, 32), act(), nn.Linear(32, 1))
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    for step in range(1, 301):
        loss = ((net(x) - TARGET(x)) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0:
            report(step // 100, -loss.item())
    return {"score": -loss.item(), "file": os.path.realpath(__file__)}
'''
HELPER = "import torch\n\n\ndef TARGET(x):\n    return torch.sin(2 * x)\n"


def _free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _ours(token: str) -> list[int]:
    """This user's processes that carry ``token`` in their environment (what our nodes started)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid != os.getuid():
                continue
            with open(f"/proc/{entry}/environ", "rb") as fh:
                env = fh.read().split(b"\0")
        except OSError:
            continue
        if f"{TOKEN_VAR}={token}".encode() in env:
            found.append(int(entry))
    return found


def _kill(token: str) -> list[int]:
    """SIGTERM, then SIGKILL after a grace period, every process of our nodes; the survivors."""
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        for pid in _ours(token):
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        deadline = time.monotonic() + wait
        while _ours(token) and time.monotonic() < deadline:
            time.sleep(0.2)
    return _ours(token)


def _node(args: list[str], env: dict[str, str], cwd: Path) -> None:
    proc = subprocess.run([RAY, "start", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]


@pytest.mark.slow
def test_user_task_file_ships_to_a_two_node_cluster(tmp_path):
    token = secrets.token_hex(16)
    task_dir, nodes_dir, run_dir = tmp_path / "mine", tmp_path / "nodes", tmp_path / "run"
    task_dir.mkdir()
    nodes_dir.mkdir()
    (task_dir / "mytask.py").write_text(TASK)
    (task_dir / "helper.py").write_text(HELPER)
    # The same task as package.module:NAME, importable on the driver's PYTHONPATH only (not from its
    # current directory, which Ray puts on every worker's sys.path: on a loopback cluster that would
    # find the driver's copy).
    package = tmp_path / "src" / "mypkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "helper.py").write_text(HELPER)
    (package / "tasks.py").write_text(TASK.replace("from helper import", "from .helper import"))
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    base = {**clean, "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    env = {**base, TOKEN_VAR: token}
    temp = Path(tempfile.mkdtemp(prefix="as-ray-", dir="/tmp"))  # short: Ray's socket paths have a limit
    gcs, *ports = _free_ports(13)
    quiet = ["--num-cpus", "1", "--node-ip-address", "127.0.0.1", "--disable-usage-stats"]

    def node_ports(p: list[int]) -> list[str]:
        return ["--node-manager-port", str(p[0]), "--object-manager-port", str(p[1]),
                "--dashboard-agent-listen-port", str(p[2]), "--dashboard-agent-grpc-port", str(p[3]),
                "--runtime-env-agent-port", str(p[4]), "--metrics-export-port", str(p[5])]

    try:
        _node(["--head", "--port", str(gcs), "--include-dashboard", "false", "--temp-dir", str(temp / "head"), *node_ports(ports[:6]), *quiet],
              env, nodes_dir)
        _node(["--address", f"127.0.0.1:{gcs}", "--temp-dir", str(temp / "worker"),
               *node_ports(ports[6:12]), *quiet], env, nodes_dir)
        def search(task: str, budget: int, run: Path, path: str = "") -> tuple[list, dict]:
            proc = subprocess.run(
                [sys.executable, "-m", "actsearch.cli", "search", "--address", f"127.0.0.1:{gcs}",
                 "--task", task, "--space", "quick", "--searcher", "random", "--budget", str(budget),
                 "--workers", "2", "--references", "", "--plain", "--run-dir", str(run)],
                cwd=task_dir, env={**base, "PYTHONPATH": str(ROOT) + path}, capture_output=True, text=True,
                timeout=420)
            assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
            with SqliteStore(run, readonly=True) as store:
                trials = [r for r in store.candidates(role="search") if r.trained]
                meta = store.meta()
            assert len(trials) == budget and all(r.status == "ok" for r in trials), \
                [(r.status, r.error) for r in trials]
            return trials, meta

        trials, meta = search("mytask.py:fit", 4, run_dir)
        nodes = {r.metrics.get("node") for r in trials}
        assert len(nodes) == 2 and None not in nodes, nodes
        driver_file = str((task_dir / "mytask.py").resolve())
        files = {run["metrics"].get("file") for r in trials for run in r.runs}
        assert driver_file not in files and all("runtime_resources" in f for f in files), files
        assert meta["task_source"]["reference"] == f"{driver_file}:fit"
        assert json.loads(json.dumps(meta["probe"]))["kind"] == "gaussian"
        # A module of a package only the driver's directory holds: the package travels.
        trials, meta = search("mypkg.tasks:fit", 2, tmp_path / "run-module", os.pathsep + str(package.parent))
        files = {run["metrics"].get("file") for r in trials for run in r.runs}
        assert all("runtime_resources" in f and f.endswith("/mypkg/tasks.py") for f in files), files
        assert meta["task_source"]["reference"] == "mypkg.tasks:fit" and meta["task_source"]["sha256"]
    finally:
        survivors = _kill(token)
        shutil.rmtree(temp, ignore_errors=True)
    assert not survivors, f"processes of the test's nodes still alive: {survivors}"
