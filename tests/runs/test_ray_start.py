"""An embedded Ray that cannot start (C9, C10): a temp dir with no room left, or a node that times
out at start, is one line ``error: ...`` with exit 2 naming the cause, never a traceback; the run
store a ``resume`` had opened keeps every result. Real CLI in a subprocess, real Ray, real SQLite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from actsearch.results.store import SqliteStore
from actsearch.search.rundir.run import run
from actsearch.search.rundir.spec import SearchSpec

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

CLI = [sys.executable, "-m", "actsearch.cli"]
REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("ACTSEARCH_RAY") and k != "RAY_ADDRESS"}
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=240, cwd=REPO,
                          env={**full, **env})


def _stored(run_dir: Path) -> list:
    with SqliteStore(run_dir, readonly=True) as store:
        return [(r.id, r.fingerprint, r.status, r.score) for r in store.candidates(role="search") if r.trained]


@pytest.fixture
def started_run(tmp_path):
    """A run with one result (trained in process: no Ray), to be resumed on Ray."""
    run_dir = tmp_path / "run"
    spec = SearchSpec(space="quick", searcher="random", task="xor", task_overrides={"trials": 2, "epochs": 5}, budget=1,
                      workers=1, references=())
    run(spec, run_dir, executor="inprocess")
    before = _stored(run_dir)
    assert len(before) == 1
    return run_dir, before


def _one_error_line(out: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr[-3000:]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1, out.stderr[-3000:]
    return errors[0]


def test_a_ray_node_that_times_out_at_start_is_one_line(started_run):
    """C10: Ray's own start timeout (the GCS port file not written in time) used to be a traceback."""
    run_dir, before = started_run
    out = _cli("resume", str(run_dir), "--budget", "2", "--plain", RAY_gcs_server_port_wait_time_s="0")
    line = _one_error_line(out)
    assert line.startswith("error: Ray did not start within") and "RAY_TMPDIR" in line, line
    assert _stored(run_dir) == before  # nothing stored is lost


@pytest.fixture
def full_tmpfs(tmp_path):
    """A directory on a tmpfs with no inodes left (creating a file there fails with ENOSPC)."""
    where = tmp_path / "full"
    where.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1M,nr_inodes=3", "tmpfs", str(where)],
                          capture_output=True)
    if made.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root and mount permission)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_a_full_ray_temp_dir_is_one_line(started_run, full_tmpfs):
    """C9: a full disk under Ray's temp dir killed a `resume` with a raw OSError."""
    run_dir, before = started_run
    out = _cli("resume", str(run_dir), "--budget", "2", "--plain", RAY_TMPDIR=str(full_tmpfs))
    line = _one_error_line(out)
    assert line.startswith("error: cannot start Ray: no space left on device") and str(full_tmpfs) in line, line
    assert _stored(run_dir) == before
    with SqliteStore(run_dir, readonly=True) as store:
        assert store.pending() == []
