"""``actsearch space``: summary, --dedup, --list, --json, and user errors (exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from actsearch.cli import app
from actsearch.errors import UserError
from actsearch.grammar import parse


def cli(*args):
    """Run ``actsearch space ARGS`` in-process (the exit-status test below uses a real process)."""
    result = CliRunner().invoke(app, ["space", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def cli_process(*args):
    return subprocess.run(
        [sys.executable, "-m", "actsearch.cli", "space", *args], capture_output=True, text=True, timeout=120
    )


def test_summary_and_json():
    out = cli("paper-2")
    assert out.exit_code == 0 and "156,250,000" in out.stdout and "sigmul" in out.stdout
    info = json.loads(cli("paper-1", "--json").stdout)
    assert info["raw"] == 6250 and len(info["unary"]) == 25 and len(info["binary"]) == 10


def test_dedup_and_list(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('unary = ["x", "neg", "sin", "tanh"]\nbinary = ["add", "sub", "max"]\n')
    info = json.loads(cli(str(path), "--dedup", "--json").stdout)
    assert info["raw"] == 48 and 0 < info["distinct"] < 48 and info["seconds"] >= 0
    lines = cli(str(path), "--list").stdout.splitlines()
    assert len(lines) == 48 and all(parse(line) for line in lines)
    objs = [json.loads(line) for line in cli(str(path), "--list", "--dedup", "--json").stdout.splitlines()]
    assert len(objs) == info["distinct"] and set(objs[0]) == {"expression", "params"}
    assert "distinct:" in cli(str(path), "--dedup").stdout


@pytest.mark.train
def test_bad_input_is_one_line_and_exit_2(tmp_path):
    out = cli_process("no-such-space")
    assert out.returncode == 2 and out.stderr.startswith("error: ") and "Traceback" not in out.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("units = 9\n")
    with pytest.raises(UserError, match="units must be 1 to 3"):
        cli(str(bad))
