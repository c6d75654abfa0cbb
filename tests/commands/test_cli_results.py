"""The results commands: leaderboard, show, plot, report, export (validate is in test_validate)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from actsearch.cli import app
from actsearch.errors import UserError

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

runner = CliRunner()


def invoke(*args: str):
    result = runner.invoke(app, [str(a) for a in args])
    return result


def test_leaderboard_json_fields(run_dir):
    result = invoke("leaderboard", run_dir, "--format", "json", "--top", "3")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["rank"] for r in rows if r["rank"]] == [1, 2, 3]
    first = rows[0]
    for key in ("rank", "id", "expression", "canonical", "params", "score", "score_std", "status", "aliases"):
        assert key in first
    assert first["params"] == {"beta": 1.5} and first["aliases"] == ["x / (1 + exp(-beta * x))"]
    assert {r["reference"] for r in rows if r["role"] == "reference"} == {"relu", "swish"}


def test_leaderboard_formats_and_all(run_dir):
    table = invoke("leaderboard", run_dir).stdout
    assert "x * sigmoid(beta * x)" in table and "diverged" not in table
    with_failed = invoke("leaderboard", run_dir, "--all", "--format", "csv").stdout
    statuses = [r["status"] for r in csv.DictReader(io.StringIO(with_failed))]
    assert statuses.count("ok") == 7 and "diverged" in statuses and "invalid" in statuses
    md = invoke("leaderboard", run_dir, "--format", "markdown", "--task", "digits[steps=50]").stdout
    assert md.splitlines()[0].startswith("| rank | expression |") and len(md.splitlines()) == 4


def test_show_json_and_plot(run_dir, tmp_path):
    result = invoke("show", run_dir, "1", "--json", "--out", tmp_path / "one.png")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["rank"] == 1 and info["properties"]["monotonic"] is False
    assert {r["expression"] for r in info["rows"]} >= {"x * sigmoid(beta * x)", "x / (1 + exp(-beta * x))"}
    assert (tmp_path / "one.png").read_bytes()[:4] == b"\x89PNG"
    text = invoke("show", run_dir, "relu").stdout
    assert "f(x) over [-6, 6]" in text and "stored rows" in text


def test_plot_report_export(run_dir, tmp_path):
    assert invoke("plot", run_dir, "--out", tmp_path / "p.png", "--top", "2").exit_code == 0
    assert (tmp_path / "p-progress.png").is_file()
    assert invoke("report", run_dir, "--out", tmp_path / "r.html").exit_code == 0
    assert "<table id=\"leaderboard\">" in (tmp_path / "r.html").read_text()
    result = invoke("export", run_dir, "2", "--out", tmp_path / "my_act.py", "--name", "LeakyFound")
    assert result.exit_code == 0, result.output
    assert "class LeakyFound(nn.Module):" in (tmp_path / "my_act.py").read_text()


def test_user_errors(run_dir, tmp_path):
    result = invoke("export", run_dir, "99", "--out", tmp_path / "x.py")
    assert isinstance(result.exception, UserError)
    result = invoke("leaderboard", run_dir, "--format", "yaml")
    assert isinstance(result.exception, UserError)
    proc = subprocess.run([sys.executable, "-m", "actsearch.cli", "leaderboard", str(tmp_path / "missing")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
