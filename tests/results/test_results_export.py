"""Export: a standalone module that needs only torch, TorchScript, and no way to inject code."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

import actsearch
from actsearch.errors import UserError
from actsearch.evaluators.result import CandidateResult, EvalResult
from actsearch.results import export
from actsearch.results.store import SqliteStore

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

TORCH_SITE = str(Path(torch.__file__).resolve().parent.parent)

# Runs in a fresh interpreter without site (so no editable-install hook) and with only torch's
# site-packages and the export's folder on the path: actsearch must not be importable there.
CHILD = r"""
import importlib, json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
try:
    import actsearch
    print(json.dumps({"actsearch_importable": True}))
    raise SystemExit(0)
except ImportError:
    pass
import torch
out = {"actsearch_importable": False, "classes": {}, "docs": {}}
for name in sys.argv[3].split(","):
    module = importlib.import_module(name)
    cls = getattr(module, module.__all__[0])
    out["classes"][name], out["docs"][name] = cls.__name__, cls.__doc__
    for per_channel in (0, 4):
        act = cls(per_channel=per_channel)
        x = torch.load(sys.argv[4], weights_only=True).clone().requires_grad_()
        y = act(x)
        y.sum().backward()
        grads = {n: p.grad for n, p in act.named_parameters()}
        torch.save({"y": y.detach(), "grad": x.grad, "params": grads}, f"{sys.argv[4]}.{name}.{per_channel}.out")
out["modules"] = sorted(m for m in sys.modules if m.split(".")[0] == "actsearch")
print(json.dumps(out))
"""


def _fresh(folder: Path, modules: list[str], x: torch.Tensor) -> dict:
    data = folder / "x.pt"
    torch.save(x, data)
    cmd = [sys.executable, "-I", "-S", "-c", CHILD, str(folder), TORCH_SITE, ",".join(modules), str(data)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=folder)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]) | {"data": data}


def _reference(act, x: torch.Tensor, per_channel: int | None) -> dict:
    module = act.module(per_channel=per_channel)
    x = x.clone().requires_grad_()
    y = module(x)
    y.sum().backward()
    return {"y": y.detach(), "grad": x.grad, "params": {n: p.grad for n, p in module.named_parameters()}}


CASES = [
    ("x * sigmoid(beta * x)", {"beta": 1.5}),
    ("log(1 + exp(x)) * tanh(x) + max(x, 0.5) - 2^x / (alpha + abs(x))", {"alpha": 2.0}),
    ("x * erf(gamma_1 * x) + min(sinc(x), beta2) - atan(x)^2", {"gamma_1": 0.5, "beta2": 0.3}),
]


def _tolerance(text: str, rounding: float) -> float:
    """0 (bit-equal), except where the expression uses asinh or sinc: the export writes torch's own
    kernels (single ops in TorchScript and ONNX), the compiler vectorised ones
    (:mod:`actsearch.grammar.kernels`), equal up to float rounding."""
    return rounding if "asinh" in text or "sinc" in text else 0.0


def test_fresh_interpreter_matches_compiled(tmp_path):
    """Imported where only torch is (actsearch not importable): same values and gradients."""
    names = []
    for i, (text, params) in enumerate(CASES):
        path = export.write(text, params, tmp_path / f"my_act{i}.py", info={"task": "digits", "run": "r1"})
        names.append(path.stem)
    x = torch.linspace(-6, 6, 4 * 6 * 5, dtype=torch.float32).reshape(6, 4, 5) + 0.013
    out = _fresh(tmp_path, names, x)
    assert out["actsearch_importable"] is False and out["modules"] == []
    for name, (text, params) in zip(names, CASES, strict=True):
        act = actsearch.parse(text, **params)
        assert f"f(x) = {text}" in out["docs"][name]
        for per_channel in (0, 4):
            got = torch.load(f"{out['data']}.{name}.{per_channel}.out", weights_only=True)
            want = _reference(act, x, per_channel or None)
            tol = _tolerance(text, 2.5e-7)
            torch.testing.assert_close(got["y"], want["y"], rtol=tol, atol=tol)
            torch.testing.assert_close(got["grad"], want["grad"], rtol=tol, atol=tol)
            assert got["params"].keys() == want["params"].keys() == set(params)
            for p in params:
                torch.testing.assert_close(got["params"][p], want["params"][p], rtol=1e-6, atol=1e-6)


def test_deep_expression_exports_as_statements(tmp_path):
    text = "x" + " + sin(x" * 30 + ")" * 30
    act = actsearch.parse(text)
    src = export.module_source(text, {})
    assert "t29 = " in src  # printed as a sequence of assignments
    path = export.write(text, {}, tmp_path / "deep.py")
    cls = export.load_module_class(path, ast.parse(src).body[-1].name)
    x = torch.randn(50, dtype=torch.float64)
    torch.testing.assert_close(cls().double()(x), act.module().double()(x))


def test_torchscript_loads_with_jit_load(tmp_path):
    text, params = "x * sigmoid(beta * x) + 0.1 * min(x, 0)", {"beta": 0.75}
    path = export.write(text, params, tmp_path / "act.pt", fmt="torchscript")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        loaded = torch.jit.load(str(path))
    x = torch.randn(3, 7)
    torch.testing.assert_close(loaded(x), actsearch.parse(text, **params).module()(x))
    assert [n for n, _ in loaded.named_parameters()] == ["beta"]


def test_export_from_run(run_dir, tmp_path):
    with actsearch.open_run(run_dir) as run:
        path = run.export("1", tmp_path / "winner.py")
        ref = run.export("relu", tmp_path / "relu_ref.py")
    src = path.read_text()
    assert "class SigmoidActivation(nn.Module):" in src
    assert "score: 0.9500 ± 0.0100 over 2 seed(s) (ok)" in src and "task: digits" in src
    assert "self.beta = nn.Parameter(torch.full(shape, 1.5))" in src
    assert "class Relu(nn.Module):" in ref.read_text()


EVIL = 'digits"""\nimport os; open("PWNED", "w").write("x")\n"""'
SEARCHER = "evil'''\\\n\x00\u2028"


def _crafted_store(run_dir: Path) -> None:
    evil = EVIL
    act = actsearch.parse("x * sigmoid(beta * x)")
    res = CandidateResult.from_runs([EvalResult(status="ok", score=0.9, seed=0)])
    with SqliteStore(run_dir) as store:
        store.init_run({"task": evil})
        store.record("x * sigmoid(beta * x)", act.fingerprint, res, task=evil, canonical='\\"""; import os #',
                     params={"beta": 2.0}, searcher=SEARCHER, seeds=[0])
        store.record('x"""; import os #', "f2", res, task=evil, seeds=[0])
        bad_param = actsearch.parse("tanh(x)")
        store.record("tanh(x)", bad_param.fingerprint, CandidateResult.from_runs(
            [EvalResult(status="ok", score=0.5, seed=0)]), task=evil, params={"x); import os; (": 1.0}, seeds=[0])


def test_crafted_store_text_cannot_inject_code(tmp_path):
    run_dir = tmp_path / 'run"""\nimport os'
    _crafted_store(run_dir)
    with actsearch.open_run(run_dir) as run:
        path = run.export("1", tmp_path / "safe_act.py")
        with pytest.raises(UserError):  # an unparsable stored expression is refused, not pasted
            run.export("id:2", tmp_path / "bad.py")
        with pytest.raises(UserError):  # a parameter name that is not one is refused
            run.export("id:3", tmp_path / "bad2.py")
        for name in ("Bad Name", "class", "A" * 70, "x = 1\nimport os"):
            with pytest.raises(UserError, match="class name"):
                run.export("1", tmp_path / "bad3.py", class_name=name)
    assert not (tmp_path / "bad.py").exists() and not (tmp_path / "bad2.py").exists()
    src = path.read_text()
    tree = ast.parse(src)
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    assert len(classes) == 1 and len(tree.body) == 9  # docstring, 4 imports, 3 constants, class
    methods = [n.name for n in classes[0].body if isinstance(n, ast.FunctionDef)]
    assert methods == ["__init__", "_param", "forward"]
    work = tmp_path / "exec"
    work.mkdir()
    shutil.copy(path, work / "safe_act.py")
    out = _fresh(work, ["safe_act"], torch.randn(4, 4))
    assert not (work / "PWNED").exists()
    assert EVIL in out["docs"]["safe_act"]  # shown verbatim once Python has read the escaped docstring
    assert SEARCHER in out["docs"]["safe_act"]
    assert not any(line.lstrip().startswith("import os") for line in src.splitlines())


def test_module_only_library_function_is_refused(tmp_path):
    with pytest.raises(UserError, match="module-only"):
        export.write("helu", {}, tmp_path / "h.py")
    with pytest.raises(UserError, match="unknown export format"):
        export.write("x", {}, tmp_path / "h.py", fmt="tflite")


def test_exported_forms_equal_the_compiler_on_sampled_candidates(tmp_path):
    """Oracle: 120 candidates sampled from the paper's spaces, float64 values and gradients bit-equal
    (to float rounding where they use asinh or sinc)."""
    import random

    from actsearch.search.space.files import load_space

    rng = random.Random(0)
    x0 = torch.linspace(-5, 5, 101, dtype=torch.float64) + 0.0123
    checked = 0
    for preset in ("paper-1", "paper-2"):
        space = load_space(preset)
        for i in range(60):
            text, params = space.to_text(space.sample(rng))
            src = export.module_source(text, params)
            path = tmp_path / f"m_{preset[-1]}_{i}.py"
            path.write_text(src)
            mine = export.load_module_class(path, ast.parse(src).body[-1].name)().double()
            ref = actsearch.parse(text, **params).module().double()
            x1, x2 = x0.clone().requires_grad_(), x0.clone().requires_grad_()
            y1, y2 = ref(x1), mine(x2)
            y1.sum().backward()
            y2.sum().backward()
            tol = _tolerance(text, 1e-12)

            def same(a: torch.Tensor, b: torch.Tensor, tol: float = tol) -> bool:
                a, b = torch.nan_to_num(a), torch.nan_to_num(b)
                return torch.equal(a, b) if tol == 0 else torch.allclose(a, b, rtol=tol, atol=tol)

            assert same(y1, y2) and same(x1.grad, x2.grad), text
            for a, b in zip(ref.parameters(), mine.parameters(), strict=True):
                assert same(a.grad, b.grad), text
            checked += 1
    assert checked == 120
