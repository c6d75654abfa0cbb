"""Real Ray clusters on 127.0.0.1 for the run tests (``ray start``), and the CLI run against them.

Each node gets its own ``--temp-dir`` (short: Ray's socket paths have a length limit) and free
ports; the nodes can import actsearch (PYTHONPATH) but start in a directory the test chooses.
Teardown kills only the processes that carry the cluster's random token in their environment
(other Ray clusters on the machine are left alone).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RAY = str(Path(sys.executable).with_name("ray"))
TOKEN_VAR = "ACTSEARCH_TEST_CLUSTER"
QUIET = ["--num-cpus", "1", "--node-ip-address", "127.0.0.1", "--disable-usage-stats"]


def free_ports(n: int) -> list[int]:
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


def ours(token: str) -> list[int]:
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


def kill(token: str) -> list[int]:
    """SIGTERM, then SIGKILL after a grace period, every process of our nodes; the survivors."""
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        for pid in ours(token):
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        deadline = time.monotonic() + wait
        while ours(token) and time.monotonic() < deadline:
            time.sleep(0.2)
    return ours(token)


def base_env() -> dict[str, str]:
    """The environment of the nodes and of the driver: no inherited RAY_* settings, actsearch importable."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    return {**clean, "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


def _node(args: list[str], env: dict[str, str], cwd: Path) -> None:
    proc = subprocess.run([RAY, "start", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]


def _ports(p: list[int]) -> list[str]:
    return ["--node-manager-port", str(p[0]), "--object-manager-port", str(p[1]),
            "--dashboard-agent-listen-port", str(p[2]), "--dashboard-agent-grpc-port", str(p[3]),
            "--runtime-env-agent-port", str(p[4]), "--metrics-export-port", str(p[5])]


@contextmanager
def cluster(cwd: Path, *, workers: int = 0, head_temp: Path | None = None,
            env: dict[str, str] | None = None) -> Iterator[str]:
    """A head node (``--temp-dir head_temp``, default a fresh short one) and ``workers`` more nodes,
    started in ``cwd``; yields the head's ``HOST:PORT`` and tears every node down afterwards."""
    token = secrets.token_hex(16)
    node_env = {**base_env(), **(env or {}), TOKEN_VAR: token}
    temp = Path(tempfile.mkdtemp(prefix="as-ray-", dir="/tmp"))
    gcs, *ports = free_ports(1 + 6 * (1 + workers))
    try:
        _node(["--head", "--port", str(gcs), "--include-dashboard", "false",
               "--temp-dir", str(head_temp or temp / "head"), *_ports(ports[:6]), *QUIET], node_env, cwd)
        for n in range(workers):
            _node(["--address", f"127.0.0.1:{gcs}", "--temp-dir", str(temp / f"worker{n}"),
                   *_ports(ports[6 * (n + 1):6 * (n + 2)]), *QUIET], node_env, cwd)
        yield f"127.0.0.1:{gcs}"
    finally:
        survivors = kill(token)
        shutil.rmtree(temp, ignore_errors=True)
    assert not survivors, f"processes of the test's nodes still alive: {survivors}"


def search(address: str, task: str, budget: int, run_dir: Path, cwd: Path, *extra: str, path: str = "",
           env: dict[str, str] | None = None, timeout: float = 420) -> subprocess.CompletedProcess:
    """``actsearch search`` (a subprocess, as a user runs it) of a tiny random search on the cluster."""
    return subprocess.run(
        [sys.executable, "-m", "actsearch.cli", "search", "--address", address, "--task", task, "--space", "quick",
         "--searcher", "random", "--budget", str(budget), "--workers", "2", "--references", "", "--plain",
         "--run-dir", str(run_dir), *extra],
        cwd=cwd, env={**base_env(), "PYTHONPATH": str(ROOT) + path, **(env or {})}, capture_output=True, text=True,
        timeout=timeout)
