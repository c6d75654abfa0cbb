"""The ``inspect`` command: JSON keys, library names, plot file, user errors exit 2 in one line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from actsearch.commands.grammar import report, resolve
from actsearch.errors import UserError


def _run(monkeypatch, capsys, *args):
    """Run the console entry point in-process (as the ``actsearch`` script does)."""
    from actsearch.cli import main

    monkeypatch.setattr(sys, "argv", ["actsearch", "inspect", *args])
    with pytest.raises(SystemExit) as info:
        main()
    out = capsys.readouterr()
    return subprocess.CompletedProcess(args, info.value.code or 0, out.out, out.err)


def test_inspect_json_and_plot(tmp_path, monkeypatch, capsys):
    png = tmp_path / "f.png"
    proc = _run(
        monkeypatch, capsys, "x * sigmoid(beta * x)", "--param", "beta=1.5", "--json", "--plot", str(png)
    )
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert {"expression", "canonical", "fingerprint", "params", "properties"} <= set(info)
    assert info["params"] == {"beta": 1.5}
    assert info["properties"]["gain"] > 1
    assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"


def test_inspect_bad_expression_is_one_line_exit_2(monkeypatch, capsys):
    proc = _run(monkeypatch, capsys, "x * foo(x)")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "error: unknown function 'foo' at column 5; known: abs, asinh, atan, cos, cosh, elu, erf, exp, gelu, log, "
        "max, min, mish, relu, selu, sigmoid, silu, sin, sinc, sinh, softplus, softsign, sqrt, tanh"
    )
    assert "Traceback" not in proc.stderr


def test_resolve_library_names_and_report():
    act = resolve("prelu", {})
    assert act.params == {"alpha": 0.25}
    info = report(resolve("swish", {"beta": 2.0}))
    assert info["params"] == {"beta": 2.0} and info["expression"] == "x * sigmoid(beta * x)"
    with pytest.raises(UserError, match="module-only"):
        resolve("helu", {})
