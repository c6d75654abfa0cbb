"""End to end: a real search (embedded Ray) on the full-control example, ranked and exported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "actsearch.cli"]


@pytest.mark.slow
def test_search_rank_export_on_a_user_task(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0"}
    run = tmp_path / "run"
    proc = subprocess.run([*CLI, "search", "--task", "examples/own_loop.py:task", "--space", "quick",
                           "--searcher", "random", "--budget", "3", "--workers", "1", "--set", "steps=60",
                           "--run-dir", str(run)], capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    board = subprocess.run([*CLI, "leaderboard", str(run), "--format", "json"], capture_output=True, text=True,
                           timeout=120, cwd=ROOT, env=env)
    assert board.returncode == 0, board.stderr
    rows = json.loads(board.stdout)
    rows = rows.get("rows", rows) if isinstance(rows, dict) else rows
    searched = [r for r in rows if r.get("role") == "search"]
    assert len(searched) == 3 and all(r["status"] == "ok" for r in searched)
    export = subprocess.run([*CLI, "export", str(run), "1", "--out", str(tmp_path / "best.py")],
                            capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert export.returncode == 0 and (tmp_path / "best.py").is_file(), export.stderr
