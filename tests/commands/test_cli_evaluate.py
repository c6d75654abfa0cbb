"""The ``evaluate`` and ``baselines`` commands: tables, JSON shapes, exit statuses."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from actsearch.cli import app
from actsearch.errors import UserError

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

runner = CliRunner()


def test_evaluate_json_shape():
    out = runner.invoke(app, ["evaluate", "relu", "--task", "digits", "--steps", "20", "--seeds", "2", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert {"expression", "task", "status", "score", "score_std", "runs"} <= set(data)
    assert data["expression"] == "relu" and data["task"] == "digits" and data["status"] == "ok"
    assert [r["seed"] for r in data["runs"]] == [0, 1]
    for run in data["runs"]:
        assert {"seed", "status", "score", "metrics", "wall_s"} <= set(run)
        assert run["metrics"]["steps"] == 20 and 0 <= run["metrics"]["test_acc"] <= 1
    mean = sum(r["score"] for r in data["runs"]) / 2
    assert abs(data["score"] - mean) < 1e-12 and 0 <= data["metrics"]["pd"] <= 1


def test_evaluate_table_and_failed_candidate_exits_zero():
    out = runner.invoke(app, ["evaluate", "x * sigmoid(beta*x)", "--task", "digits", "--steps", "20",
                              "--init", "he-gain", "--head", "activation"])
    assert out.exit_code == 0, out.output
    assert "x * sigmoid(beta*x) on digits" in out.stdout and "ok: score" in out.stdout
    out = runner.invoke(app, ["evaluate", "0 * x + 2", "--task", "digits", "--json"])
    assert out.exit_code == 0 and json.loads(out.stdout)["status"] == "invalid"


def test_baselines_json_and_table():
    args = ["baselines", "--task", "digits", "--steps", "20", "--seeds", "2", "--only", "relu", "--only", "helu"]
    out = runner.invoke(app, [*args, "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["task"] == "digits" and [r["name"] for r in data["baselines"]] == ["relu", "helu"]
    for row in data["baselines"]:
        assert row["status"] == "ok" and 0 <= row["pd"] <= 1 and 0 <= row["dnr"] <= 1 and row["wall_s"] > 0
    out = runner.invoke(app, args)
    assert out.exit_code == 0 and "baselines on digits" in out.stdout and "helu" in out.stdout


def test_user_errors_are_one_line():
    for args in (["evaluate", "x +", "--task", "digits"], ["evaluate", "relu", "--task", "nope"],
                 ["evaluate", "relu", "--task", "digits", "--set", "stepz=3"],
                 ["evaluate", "relu", "--task", "cifar10", "--data-dir", "/nonexistent/cifar"]):
        out = runner.invoke(app, args)
        assert isinstance(out.exception, UserError), (args, out.exception)
        assert "\n" not in str(out.exception)


def test_user_error_exits_2_from_the_console_script():
    args = ["evaluate", "relu", "--task", "cifar10", "--data-dir", "/nonexistent/cifar"]
    proc = subprocess.run([sys.executable, "-m", "actsearch.cli", *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "data_batch_1" in lines[0]
