"""The examples in examples/ through the CLI and the Python API, on small budgets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

import actsearch
from actsearch.cli import app

ROOT = Path(__file__).resolve().parents[2]
DIGITS = str(ROOT / "examples" / "digits_cnn.py") + ":task"
MOONS = str(ROOT / "examples" / "own_loop.py") + ":task"
runner = CliRunner()


def test_digits_cnn_through_the_cli():
    out = runner.invoke(app, ["evaluate", "x * sigmoid(beta * x)", "--task", DIGITS, "--seeds", "2",
                              "--set", "steps=60", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["status"] == "ok" and data["score"] > 0.5  # 10 classes: chance is 0.1
    assert 0 <= data["metrics"]["pd"] <= 1 and 0 <= data["metrics"]["dnr"] <= 1
    assert all(r["metrics"]["steps"] == 60 for r in data["runs"])
    out = runner.invoke(app, ["baselines", "--task", DIGITS, "--seeds", "1", "--set", "steps=30",
                              "--only", "relu", "--only", "swish", "--json"])
    assert out.exit_code == 0, out.output
    assert [r["status"] for r in json.loads(out.stdout)["baselines"]] == ["ok", "ok"]


def test_own_loop_through_the_cli_and_its_features():
    out = runner.invoke(app, ["evaluate", "swish", "--task", MOONS, "--seeds", "2", "--set", "steps=80", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["status"] == "ok" and data["score"] > 0.6 and 0 <= data["metrics"]["test_acc"] <= 1
    out = runner.invoke(app, ["evaluate", "swish", "--task", MOONS, "--set", "steps=-3"])
    assert "steps must be >= 1" in str(out.exception) and "\n" not in str(out.exception)
    out = runner.invoke(app, ["features", "x * sigmoid(x)", "--task", DIGITS, "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["prescreen"] == "pass"


def test_examples_through_the_python_api():
    digits = actsearch.get_task(DIGITS, steps=40)
    res = actsearch.evaluate("relu", digits, seeds=(0,))
    assert digits.name == "digits-cnn" and res.status == "ok" and res.score > 0.3
    moons = actsearch.get_task(MOONS, steps=60)
    res = actsearch.evaluate(actsearch.parse("x * sigmoid(beta * x)", beta=1.0), moons, seeds=(0, 1))
    assert res.status == "ok" and [r.seed for r in res.runs] == [0, 1]
    probe = moons.probe()
    assert probe is not None and probe.inputs.shape[1] == 2


def test_bad_task_reference_exits_2_in_one_line():
    proc = subprocess.run([sys.executable, "-m", "actsearch.cli", "evaluate", "relu", "--task",
                           str(ROOT / "examples" / "own_loop.py") + ":no_such"], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "has no 'no_such'; tasks there: task" in lines[0]
