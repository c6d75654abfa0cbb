"""``export --format onnx`` without the onnx package: one line naming the extra, exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from actsearch.results import export

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

# The console script's entry point in a fresh interpreter where onnx and onnxscript cannot be imported.
BLOCKED = r"""
import importlib.abc, sys

class _Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("onnx", "onnxscript"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _Blocked())
sys.argv = ["actsearch", *sys.argv[1:]]
from actsearch.cli import main
main()
"""


def test_export_onnx_without_the_package_is_one_line(run_dir, tmp_path):
    out = tmp_path / "best.onnx"
    proc = subprocess.run([sys.executable, "-c", BLOCKED, "export", str(run_dir), "1", "--out", str(out),
                           "--format", "onnx"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: "), proc.stderr
    assert "'onnx'" in proc.stderr and "pip install 'actsearch[onnx]'" in proc.stderr
    assert not out.exists()


def test_an_import_failure_wrapped_by_the_exporter_is_found():
    """torch's exporter raises its own error from the ImportError ("Module onnx is not installed!")."""
    try:
        try:
            raise ModuleNotFoundError("No module named 'onnxscript'", name="onnxscript")
        except ImportError as err:
            raise RuntimeError("Module onnx is not installed!") from err
    except RuntimeError as wrapped:
        assert export._missing_module(wrapped) == "onnxscript"
    try:
        try:
            raise ValueError("unsupported operator")
        except ValueError:
            raise RuntimeError("export failed")  # noqa: B904 - an implicit chain, as torch has
    except RuntimeError as other:
        assert export._missing_module(other) is None


def test_torchscript_needs_no_onnx(run_dir, tmp_path):
    out = tmp_path / "best.pt"
    proc = subprocess.run([sys.executable, "-c", BLOCKED, "export", str(run_dir), "1", "--out", str(out),
                           "--format", "torchscript"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert out.is_file()
