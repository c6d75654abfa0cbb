"""``export --format onnx``: the graph run by onnxruntime equals the torch module."""

from __future__ import annotations

import pytest
import torch

from actsearch.errors import UserError
from actsearch.results import export

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

ort = pytest.importorskip("onnxruntime")


@pytest.mark.parametrize(("text", "params", "rank"), [
    ("x * sigmoid(beta * x)", {"beta": 1.5}, 2),
    ("max(x, 0) + alpha * min(x, 0)", {"alpha": 0.1}, 4),
    ("log(1 + exp(x)) * tanh(x)", {}, 3),
])
def test_onnx_equals_torch(tmp_path, text, params, rank):
    path = export.write(text, params, tmp_path / "act.onnx", fmt="onnx", name="Act", rank=rank)
    module = export.load_module_class(export.write(text, params, tmp_path / "act.py", name="Act"), "Act")()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for shape in ([5] * rank, [2] + [7] * (rank - 1)):  # every dimension is dynamic
        x = torch.randn(*shape) * 4
        got = session.run(None, {"x": x.numpy()})[0]
        with torch.no_grad():
            want = module(x).numpy()
        assert got.shape == want.shape
        assert abs(got - want).max() <= 1e-5 * (1 + abs(want).max())


def test_onnx_rank_checked(tmp_path):
    with pytest.raises(UserError, match="--rank must be 1 to 8"):
        export.write("x", {}, tmp_path / "a.onnx", fmt="onnx", rank=0)


def test_export_command_onnx(run_dir, tmp_path):
    from typer.testing import CliRunner

    from actsearch.cli import app

    out = CliRunner().invoke(app, ["export", str(run_dir), "1", "--out", str(tmp_path / "best.onnx"),
                                   "--format", "onnx", "--rank", "4"])
    assert out.exit_code == 0, out.output
    session = ort.InferenceSession(str(tmp_path / "best.onnx"), providers=["CPUExecutionProvider"])
    x = torch.randn(2, 3, 4, 4)
    assert session.run(None, {"x": x.numpy()})[0].shape == (2, 3, 4, 4)
