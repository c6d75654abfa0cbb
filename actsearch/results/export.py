"""Export a candidate as a standalone Python module that depends only on torch, as TorchScript,
or as an ONNX graph (elementwise on inputs of a fixed rank, every dimension dynamic).

The generated file holds one ``nn.Module`` class with a readable name, a docstring giving the
expression, score, task and run, the learnable constants as ``nn.Parameter``s with their initial
values (optionally one per channel), and a ``forward`` printed from the parsed expression tree
in its numerically stable form (:mod:`actsearch.results.codegen`); it computes what the compiled
module computes, bit for bit, except that ``asinh`` and ``sinc`` are torch's own kernels (single
ops in TorchScript and ONNX) where training uses vectorised ones (:mod:`actsearch.grammar.kernels`),
equal up to float rounding. Text from the run store never
becomes code: the code comes from the tree, identifiers from fixed tables, and every stored string
that is shown (expression, task, run name ...) goes through :func:`doc_text` (backslashes,
quotes and control characters escaped) or ``repr``. The finished source is parsed once more and
its top-level statements are checked before it is written.
"""

from __future__ import annotations

import ast
import importlib.util
import keyword
import math
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

from actsearch.errors import UserError
from actsearch.results import codegen
from actsearch.results.records import Role
from actsearch.results.text import visible

FORMATS = ("py", "torchscript", "onnx")
ONNX_OPSET = 17  # ONNX operator set of the exported graph (onnxruntime 1.14+ runs it)
_ALLOWED_IMPORTS = {"math", "torch", "torch.nn.functional", "torch.nn"}


def doc_text(value: Any, limit: int = 400) -> str:
    """``value`` as text safe inside a ``\"\"\"`` docstring: ``\\``, ``"`` and non-printable
    characters escaped, so it can neither close the string nor start a new line."""
    text = str(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return visible(text.replace("\\", "\\\\").replace('"', '\\"'))  # the escapes visible() adds stay single


def activation_text(expression: str) -> str:
    """Expression-language text of a stored expression (library names such as ``swish`` resolved)."""
    from actsearch.grammar import library

    name = expression.strip()
    if name in library.NAMES:
        text = library.expression(name)
        if text is None:
            raise UserError(f"{name} is a module-only library function; it has no expression to export")
        return text
    return expression


def activation_of(expression: str, params: dict[str, Any] | None = None) -> Any:
    """The :class:`~actsearch.grammar.Activation` of a stored expression with its initial params
    (a library name gets the library's defaults)."""
    from actsearch.grammar.library import resolve

    activation_text(expression)  # a module-only library name: the export's own message
    return resolve(expression, {k: _float(v, k) for k, v in (params or {}).items()})


def _float(value: Any, name: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise UserError(f"parameter {name!r} has a non-numeric value {value!r}") from None
    if not math.isfinite(value):
        raise UserError(f"parameter {name!r} has a non-finite value {value!r}")
    return value


def _check_finite(act: Any) -> None:
    """Refuse a function that is not finite on the fingerprint's probe points: its module would
    return inf or NaN on ordinary inputs."""
    import numpy as np

    from actsearch.grammar.fingerprint import PROBE

    with np.errstate(all="ignore"):
        values = np.asarray(act(PROBE), dtype=float)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise UserError(f"cannot export {act.text!r}: it is not finite at x = {PROBE[bad[0]]:.4g} "
                        f"({bad.size} of {PROBE.size} probe points)")


def module_source(text: str, params: dict[str, Any], *, name: str | None = None,
                  info: dict[str, Any] | None = None, module: str = "my_act") -> str:
    """The standalone module's source for expression ``text`` with initial ``params``."""
    from actsearch.grammar.nodes import param_names, to_text
    from actsearch.grammar.parse import parse_tree

    act = activation_of(text, params)
    _check_finite(act)
    tree = parse_tree(act.text)
    cls = codegen.class_name(tree, name)
    names = [codegen.param_ident(p) for p in param_names(tree)]
    values = {p: _float(act.params[p], p) for p in names}
    pretty = doc_text(to_text(tree))
    info = {k: v for k, v in (info or {}).items() if v not in (None, "", to_text(tree))}
    module = module if codegen.IDENT.fullmatch(module) and not keyword.iskeyword(module) else "my_act"
    per_channel = f"  # or {cls}(per_channel=C): one value of each constant per channel (dim 1)" if names else ""
    details = [f"{doc_text(k)}: {doc_text(v)}" for k, v in info.items()]
    consts = ", ".join(f"{p} = {values[p]!r}" for p in names) or "none"
    body = codegen.forward_lines(tree)
    lines = [
        f'"""{cls}: f(x) = {pretty}',
        "",
        "An activation function found by actsearch, exported as a standalone torch module (this file",
        "depends only on torch). Usage::",
        "",
        f"    from {module} import {cls}",
        f"    act = {cls}(){per_channel}",
        "    y = act(torch.randn(8, 16))",
        f"    model = timm.create_model('resnet18', act_layer={cls})  # as a model library's activation layer",
        '"""',
        "",
        "import math",
        "",
        "import torch",
        "import torch.nn.functional as F",
        "from torch import nn",
        "",
        f"__all__ = [{cls!r}]",
        f"EXPRESSION = {to_text(tree)!r}",
        f"INITIAL_PARAMS = {{{', '.join(f'{p!r}: {values[p]!r}' for p in names)}}}",
        "",
        "",
        f"class {cls}(nn.Module):",
        f'    """f(x) = {pretty}',
        "",
        *(f"    {d}" for d in details),
        f"    learnable constants (initial values): {consts}",
        '    """',
        "",
        "    def __init__(self, per_channel: int = 0, inplace: bool = False) -> None:",
        '        """``inplace`` is accepted and ignored, for model libraries that pass it (timm\'s',
        "        ``act_layer(inplace=True)`` or ``act_layer(True)``, torchvision's ``activation_layer``):",
        '        this module never computes in place."""',
        "        super().__init__()",
        "        if isinstance(per_channel, bool):  # act_layer(True): an in-place flag, not a channel count",
        "            per_channel = 0",
        "        self.per_channel = per_channel",
        *(["        shape = [per_channel] if per_channel > 0 else []"] if names else []),
        *(f"        self.{p} = nn.Parameter(torch.full(shape, {values[p]!r}))" for p in names),
        "",
    ]
    if names:
        lines += [
            "    def _param(self, p: torch.Tensor, x: torch.Tensor) -> torch.Tensor:",
            '        """A constant shaped to broadcast over x (per channel: along dim 1)."""',
            "        if self.per_channel > 0 and x.dim() > 1:",
            "            return p.view([1, -1] + [1] * (x.dim() - 2))",
            "        return p",
            "",
        ]
    lines += [
        "    def forward(self, x: torch.Tensor) -> torch.Tensor:",
        '        """Apply the activation elementwise."""',
        *(f"        {p} = self._param(self.{p}, x)" for p in names),
        *(f"        {line}" for line in body),
        "",
    ]
    source = "\n".join(lines)
    _check(source, cls)
    return source


def _check(source: str, cls: str) -> None:
    """Defence in depth: the source parses, and its top level is only the expected statements."""
    tree = ast.parse(source)
    for stmt in tree.body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue
        if isinstance(stmt, ast.Import) and all(a.name in _ALLOWED_IMPORTS for a in stmt.names):
            continue
        if isinstance(stmt, ast.ImportFrom) and f"{stmt.module}.{stmt.names[0].name}" in _ALLOWED_IMPORTS:
            continue
        if isinstance(stmt, ast.Assign) and all(isinstance(t, ast.Name) for t in stmt.targets) and \
                all(isinstance(n, (ast.Constant, ast.List, ast.Dict)) for n in [stmt.value]):
            continue
        if isinstance(stmt, ast.ClassDef) and stmt.name == cls:
            continue
        raise AssertionError(f"generated export has an unexpected statement: {ast.dump(stmt)[:200]}")


def load_module_class(path: Path, cls: str) -> Any:
    """Import a generated file by path and return its class (used for TorchScript export)."""
    spec = importlib.util.spec_from_file_location(f"_actsearch_export_{os.getpid()}_{cls}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # the file was generated above from the parsed tree
    return getattr(module, cls)


def write(text: str, params: dict[str, Any], out: Path, *, fmt: str = "py", name: str | None = None,
          info: dict[str, Any] | None = None, rank: int = 2) -> Path:
    """Write expression ``text`` as a ``.py`` module, a TorchScript file or an ONNX graph at ``out``
    (ONNX: inputs of ``rank`` dimensions, each dynamic)."""
    if fmt not in FORMATS:
        raise UserError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not isinstance(rank, int) or not 1 <= rank <= 8:
        raise UserError(f"--rank must be 1 to 8, got {rank!r}")
    source = module_source(text, params, name=name, info=info, module=out.stem)
    cls = ast.parse(source).body[-1].name
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "py":
            out.write_text(source, encoding="utf-8")
            return out
        import torch

        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / f"{cls.lower()}_export.py"
            src.write_text(source, encoding="utf-8")
            module = load_module_class(src, cls)()
            if fmt == "onnx":
                _onnx(module, out, rank)
                return out
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit is deprecated, still works
                scripted = torch.jit.script(module)
                torch.jit.save(scripted, str(out))
        return out
    except OSError as err:
        raise UserError(f"cannot write {out}: {err.strerror or err}") from None


ONNX_EXTRA = "pip install 'actsearch[onnx]'"  # what ONNX export needs besides torch (the onnx package)


def _missing_module(err: BaseException) -> str | None:
    """The name of the package whose import failed somewhere in ``err``'s chain (torch wraps it in
    its own exporter errors), or None when no import failed."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, ImportError):
            return err.name or "onnx"
        err = err.__cause__ or err.__context__
    return None


def _onnx(module: Any, out: Path, rank: int) -> None:
    """torch's TorchScript-based ONNX exporter (fast; it needs the ``onnx`` package, not onnxscript);
    every axis dynamic. A missing package is one line naming the extra that installs it."""
    import torch

    try:
        import onnx  # noqa: F401 - torch's exporter imports it when it writes the graph
    except ImportError as err:
        raise UserError(f"ONNX export needs the {err.name or 'onnx'!r} package: {ONNX_EXTRA}") from None
    example = torch.randn(*([3] * rank))
    axes = {name: {d: f"d{d}" for d in range(rank)} for name in ("x", "y")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation and tracer warnings
        try:
            torch.onnx.export(module, (example,), str(out), input_names=["x"], output_names=["y"],
                              dynamic_axes=axes, opset_version=ONNX_OPSET, dynamo=False)
        except Exception as err:
            missing = _missing_module(err)
            if missing is None:
                raise
            raise UserError(f"ONNX export needs the {missing!r} package: {ONNX_EXTRA}") from None


def export_entry(run: Any, entry: Any, out: Path, *, fmt: str = "py", class_name: str | None = None,
                 rank: int = 2) -> Path:
    """Write a leaderboard entry of ``run`` with its provenance in the docstring."""
    info = {
        "score": None if entry.score is None else f"{entry.score:.4f} ± {entry.score_std or 0.0:.4f} "
                                                  f"over {entry.seeds} seed(s) ({entry.status})",
        "task": entry.task,
        "run": str(run.dir.resolve()),
        "candidate": f"rank {entry.rank}, id {entry.id}" if entry.rank else f"id {entry.id}",
        "searcher": entry.searcher,
        "stored expression": entry.expression,
        "canonical": entry.canonical,
        "validation": None if entry.val_score is None else
        f"{entry.val_score:.4f} ± {entry.val_std or 0.0:.4f} over {entry.val_seeds} seed(s) on {entry.val_task}",
    }
    return write(entry.expression, entry.params, out, fmt=fmt, name=class_name or _reference_class(entry), info=info,
                 rank=rank)


def _reference_class(entry: Any) -> str | None:
    return entry.reference.capitalize() if entry.reference and entry.role == Role.REFERENCE else None
