"""The examples in examples/ through the CLI and the Python API, on small budgets."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import actsearch
from actsearch.cli import app

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

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


def test_bad_task_reference_exits_2_in_one_line(monkeypatch, capsys):
    """Through the console script's own entry point (in process: a subprocess costs seconds)."""
    from actsearch.cli import main

    monkeypatch.setattr(sys, "argv", ["actsearch", "evaluate", "relu", "--task",
                                      str(ROOT / "examples" / "own_loop.py") + ":no_such"])
    with pytest.raises(SystemExit) as stop:
        main()
    err = capsys.readouterr().err
    assert stop.value.code == 2, err
    assert err.count("\n") == 1 and err.startswith("error: ") and "has no 'no_such'; tasks there: task" in err


def test_search_refuses_a_bad_task_reference_before_ray_starts(tmp_path):
    for ref, words in ((str(ROOT / "examples" / "own_loop.py") + ":nope", "has no 'nope'"),
                       (str(tmp_path / "missing.py") + ":task", "no task file")):
        out = runner.invoke(app, ["search", "--space", "quick", "--searcher", "random", "--task", ref,
                                  "--budget", "2", "--run-dir", str(tmp_path / "run")])
        assert words in str(out.exception) and "\n" not in str(out.exception)
        assert not (tmp_path / "run").exists()  # nothing started, nothing written
