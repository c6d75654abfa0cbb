"""Shipping to a real Ray cluster on 127.0.0.1 is bounded, and a failed join leaves nothing behind.

- A head node started with ``--temp-dir`` inside the task's directory (``ray start --temp-dir ./ray``
  beside the task file), a virtual environment under an odd name and a ``.env`` file beside it: the
  search ships the task's code only (the Ray temp dir, the environment and the secret stay home, a
  warning names the secret) and the directory does not grow beyond Ray's own logs.
- A cluster that refuses the driver (token authentication, no token): one line, exit 2, no run
  directory; the same command with the token then runs into the same ``--run-dir``.

Clusters come from ``tests/helpers/cluster.py``; each test is one node and well under a minute
of cluster time on an idle machine.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from actsearch.results.store import SqliteStore
from tests.helpers.cluster import cluster, search

TASK = '''
import os

from helper import SCORE  # a neighbour: the task's directory travels


def fit(act, seed, report):
    here = os.path.dirname(os.path.realpath(__file__))
    return {"score": SCORE, "file": os.path.realpath(__file__), "listing": ",".join(sorted(os.listdir(here)))}
'''


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink())


def _trials(run_dir: Path) -> tuple[list, dict]:
    with SqliteStore(run_dir, readonly=True) as store:
        return [r for r in store.candidates(role="search") if r.trained], store.meta()


@pytest.mark.slow
def test_a_head_with_its_temp_dir_inside_the_task_directory_gets_only_the_code():
    top = Path(tempfile.mkdtemp(prefix="as-", dir="/tmp"))  # short: Ray's socket paths have a length limit
    try:
        task_dir, nodes, scratch = top / "t", top / "n", top / "tmp"
        for d in (task_dir, nodes, scratch):
            d.mkdir()
        (task_dir / "mytask.py").write_text(TASK)
        (task_dir / "helper.py").write_text("SCORE = 0.5\n")
        (task_dir / ".env").write_text("RAY_AUTH_TOKEN=not-for-the-workers\n")
        venv = task_dir / "tools-3.11"  # a virtual environment under a name no list would know
        (venv / "lib").mkdir(parents=True)
        (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
        (venv / "lib" / "blob.so").write_bytes(b"\0" * (8 << 20))
        with cluster(nodes, head_temp=task_dir / "ray") as address:
            before = _size(task_dir)
            proc = search(address, "mytask.py:fit", 1, top / "run", task_dir, env={"TMPDIR": str(scratch)},
                          timeout=240)
            assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
            grew = _size(task_dir) - before
        trials, _ = _trials(top / "run")
        assert len(trials) == 1 and all(r.status == "ok" for r in trials), [(r.status, r.error) for r in trials]
        for r in trials:
            for run in r.runs:
                assert run["metrics"]["listing"] == "helper.py,mytask.py", run["metrics"]
                assert "runtime_resources" in run["metrics"]["file"]
        warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning: not shipping")]
        assert len(warnings) == 1 and str(task_dir / ".env") in warnings[0], proc.stderr[-2000:]
        big = [(f, f.stat().st_size) for f in (task_dir / "ray").rglob("*") if f.is_file() and f.stat().st_size > 4 << 20]
        assert not big, big  # no package that holds the environment (8 MiB), or Ray's own files
        assert grew < (20 << 20), f"the task's directory grew by {grew} bytes"
        assert not list(scratch.glob("actsearch-ship-*")), "the staged package was left behind"
    finally:
        shutil.rmtree(top, ignore_errors=True)


@pytest.mark.slow
def test_a_refused_join_leaves_no_run_directory_and_the_same_command_runs_after(tmp_path):
    """Finding 'a failed cluster start leaves nothing behind': before, the store was made before the
    join, and the second try said the directory 'already holds a search'."""
    top = Path(tempfile.mkdtemp(prefix="as-", dir="/tmp"))
    try:
        (top / "mytask.py").write_text(TASK.replace("from helper import SCORE  # a neighbour: the task's "
                                                    "directory travels", "SCORE = 0.25"))
        (top / "notes.txt").write_text("read by the task\n")
        token = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "5" * 32}
        run_dir = tmp_path / "runs" / "first"
        with cluster(tmp_path, env=token) as address:
            no_token: dict[str, str] = {}  # base_env() carries no RAY_AUTH_* setting
            wrong = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "6" * 32}
            for env, says in ((no_token, "export RAY_AUTH_MODE=token"), (wrong, "is not the cluster's")):
                proc = search(address, "mytask.py:fit", 1, run_dir, top, "--ship", "notes.txt", env=env, timeout=180)
                said = [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith("note: ship")]
                # one line, naming authentication, instead of ~20 lines of Ray's InvalidAuthToken warnings
                assert proc.returncode == 2 and len(said) == 1, proc.stderr[-3000:]
                assert said[0].startswith("error: cannot join the Ray cluster") and "authentication token" in said[0]
                assert says in said[0]
                assert not run_dir.exists() and not run_dir.parent.exists()
            proc = search(address, "mytask.py:fit", 1, run_dir, top, "--ship", "notes.txt", env=token, timeout=180)
            assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
        trials, meta = _trials(run_dir)
        assert [r.status for r in trials] == ["ok"]
        assert trials[0].runs[0]["metrics"]["listing"] == "mytask.py,notes.txt"
        assert meta["spec"]["ship"] == [str(top / "notes.txt")]  # stored: resume ships the same
    finally:
        shutil.rmtree(top, ignore_errors=True)
