"""``--help`` in a pipe is readable at 80 columns: click's plain text, not rich's boxed table (whose
option texts wrap to ~20 characters there)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier


@pytest.mark.parametrize("command", [["search", "--help"], ["confirm", "--help"], ["--help"]])
def test_help_in_a_pipe_is_plain_text_within_80_columns(command):
    env = {k: v for k, v in os.environ.items() if k not in ("TYPER_USE_RICH", "COLUMNS")}
    out = subprocess.run([sys.executable, "-m", "actsearch.cli", *command], capture_output=True, text=True,
                         timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines and max(len(line) for line in lines) <= 80
    assert not any(ch in out.stdout for ch in "╭│╰")  # no boxes
    if command[0] == "search":
        assert any("space preset (quick, x-gated, paper-1," in line for line in lines)  # not cut into 20-char pieces


def test_a_users_own_setting_wins():
    env = {**os.environ, "TYPER_USE_RICH": "1"}
    out = subprocess.run([sys.executable, "-m", "actsearch.cli", "--help"], capture_output=True, text=True,
                         timeout=120, env=env)
    assert out.returncode == 0 and "╭" in out.stdout
