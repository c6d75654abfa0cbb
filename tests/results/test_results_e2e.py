"""End to end (slow): a real ``actsearch search`` run, then every results command on it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def _cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    proc = subprocess.run([sys.executable, "-m", "actsearch.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


@pytest.mark.slow
def test_results_commands_on_a_real_search(tmp_path):
    run = tmp_path / "run"
    _cli("search", "--space", "quick", "--searcher", "random", "--task", "digits", "--budget", "4",
         "--workers", "1", "--seeds", "1", "--steps", "40", "--run-dir", run, "--plain")
    rows = json.loads(_cli("leaderboard", run, "--format", "json", "--all").stdout)
    ranked = [r for r in rows if r["rank"]]
    assert 1 <= len(ranked) <= 4 and [r["rank"] for r in ranked] == list(range(1, len(ranked) + 1))
    assert {r["reference"] for r in rows if r["role"] == "reference"} == {"relu", "gelu", "swish"}
    assert all(a["score"] >= b["score"] for a, b in zip(ranked, ranked[1:], strict=False))
    _cli("report", run, "--out", tmp_path / "report.html")
    assert '<table id="leaderboard">' in (tmp_path / "report.html").read_text()
    _cli("export", run, "1", "--out", tmp_path / "winner.py")
    _cli("validate", run, "--task", "digits", "--top", "1", "--seeds", "2", "--steps", "30")
    board = json.loads(_cli("leaderboard", run, "--format", "json").stdout)
    validated = [r for r in board if r["val_task"] == "digits[steps=30]"]
    assert len(validated) == 4 and all(r["val_seeds"] == 2 for r in validated)  # the winner and the references
    assert "class " in (tmp_path / "winner.py").read_text()
