"""Read a model's forward for what ``swap_activations`` cannot reach: functional activation calls,
modules called at several sites, and activation-like modules of other classes.

How forward is read, in this order:

1. ``torch.fx`` symbolic tracing, without running the model. Modules of the swapped ``kinds`` and
   torch's own leaf modules (``nn.ReLU``, ``nn.Conv2d``, ...) stay calls of a module; the forward
   of every other module is read through. A ``call_function`` / ``call_method`` node whose target is
   in :data:`FUNCTIONAL_ACTIVATIONS` (``F.relu``, ``torch.relu``, ``x.relu()``, ...) is a functional
   call that no module swap reaches; the same module target in several ``call_module`` nodes is a
   module called at several sites. The nodes' ``nn_module_stack`` says in whose forward each is.
2. When the model does not trace (control flow on tensor values, shape asserts, ...) and the caller
   gave ``example`` (an input batch, or a tuple of positional inputs): one forward pass on it, in
   eval mode and without gradients (so no batch-norm statistics move; each module's training flag is
   restored), under a ``torch.overrides.TorchFunctionMode`` that sees every torch function called,
   with forward hooks keeping the stack of running modules. The same findings, for the path that
   this input takes.
3. Otherwise forward is not checked, and the report says why (``unchecked``).

Only the activation families that the swapped ``kinds`` belong to are reported (swapping ``nn.ReLU``
warns about ``F.relu``, not about a ``torch.sigmoid`` gate); a kind of no known family (a library's
own activation class) is checked against all of them.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import fx, nn
from torch.overrides import TorchFunctionMode

# family: (torch module classes, functional forms by dotted name, Tensor method names)
FUNCTIONAL_ACTIVATIONS: dict[str, tuple[tuple[type[nn.Module], ...], tuple[str, ...], tuple[str, ...]]] = {
    "relu": ((nn.ReLU, nn.ReLU6), ("torch.nn.functional.relu", "torch.nn.functional.relu_", "torch.relu",
                                   "torch.relu_", "torch.nn.functional.relu6"), ("relu", "relu_")),
    "gelu": ((nn.GELU,), ("torch.nn.functional.gelu",), ()),
    "silu": ((nn.SiLU,), ("torch.nn.functional.silu",), ()),
    "mish": ((nn.Mish,), ("torch.nn.functional.mish",), ()),
    "elu": ((nn.ELU, nn.SELU, nn.CELU), ("torch.nn.functional.elu", "torch.nn.functional.elu_",
                                          "torch.nn.functional.selu", "torch.selu", "torch.nn.functional.celu",
                                          "torch.celu"), ()),
    "leaky_relu": ((nn.LeakyReLU,), ("torch.nn.functional.leaky_relu", "torch.nn.functional.leaky_relu_"), ()),
    "prelu": ((nn.PReLU,), ("torch.nn.functional.prelu", "torch.prelu"), ()),
    "tanh": ((nn.Tanh,), ("torch.tanh", "torch.tanh_", "torch.nn.functional.tanh"), ("tanh", "tanh_")),
    "sigmoid": ((nn.Sigmoid,), ("torch.sigmoid", "torch.sigmoid_", "torch.nn.functional.sigmoid"),
                ("sigmoid", "sigmoid_")),
    "hardswish": ((nn.Hardswish,), ("torch.nn.functional.hardswish",), ()),
    "hardsigmoid": ((nn.Hardsigmoid,), ("torch.nn.functional.hardsigmoid",), ()),
    "hardtanh": ((nn.Hardtanh,), ("torch.nn.functional.hardtanh", "torch.nn.functional.hardtanh_"), ()),
    "softplus": ((nn.Softplus,), ("torch.nn.functional.softplus",), ()),
}
# class names that look like an activation (lower case); softmax-like classes are not activations here
ACTIVATION_NAME = re.compile(r"relu|gelu|silu|swish|mish|elu|tanh|sigmoid|softplus|softsign|activation")
NOT_ACTIVATION_NAME = re.compile(r"softm")
_TORCH_ACTIVATIONS = tuple(c for classes, _, _ in FUNCTIONAL_ACTIVATIONS.values() for c in classes)


def _resolve(dotted: str) -> Any:
    target: Any = torch
    for part in dotted.split(".")[1:]:
        target = getattr(target, part, None)
    return target


def _functions(families: Sequence[str]) -> dict[Any, str]:
    """The callables of ``families`` (functions and Tensor methods) by the name a message shows."""
    found: dict[Any, str] = {}
    for family in families:
        _, dotted, methods = FUNCTIONAL_ACTIVATIONS[family]
        found.update({f: name for name in dotted if (f := _resolve(name)) is not None})
        found.update({getattr(torch.Tensor, m): f"Tensor.{m}" for m in methods})
    return found


def families_of(kinds: Sequence[type[nn.Module]]) -> list[str]:
    """The activation families of ``kinds``; every family when one kind belongs to none."""
    families: list[str] = []
    for kind in kinds:
        mine = [f for f, (classes, _, _) in FUNCTIONAL_ACTIVATIONS.items() if issubclass(kind, classes)]
        if not mine:
            return list(FUNCTIONAL_ACTIVATIONS)
        families += [f for f in mine if f not in families]
    return families


def activation_like(module: nn.Module) -> bool:
    """A leaf module whose class is a torch activation or is named like one."""
    if next(module.children(), None) is not None:
        return False
    name = type(module).__name__.lower()
    if NOT_ACTIVATION_NAME.search(name):
        return False
    return isinstance(module, _TORCH_ACTIVATIONS) or bool(ACTIVATION_NAME.search(name))


@dataclass
class FunctionalCall:
    """One call of a functional activation: its name and the module whose forward makes it."""
    name: str
    caller: str  # the caller's class name
    path: str  # the caller's path in the model ('' for the model itself)


@dataclass
class ForwardReport:
    """What reading forward found; ``unchecked`` says why it could not be read ('' when it was)."""
    how: str = ""
    unchecked: str = ""
    functional: list[FunctionalCall] = field(default_factory=list)
    # id of a module of kinds -> for each of its calls, the paths of the modules whose forward runs it
    sites: dict[int, list[tuple[str, ...]]] = field(default_factory=dict)


class _Tracer(fx.Tracer):
    def __init__(self, kinds: tuple[type[nn.Module], ...]) -> None:
        super().__init__()
        self.kinds = kinds

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return isinstance(m, self.kinds) or super().is_leaf_module(m, module_qualified_name)


def _stack_paths(node: fx.Node) -> list[tuple[str, str]]:
    stack = node.meta.get("nn_module_stack") or {}
    return [(path, getattr(kind, "__name__", str(kind).rsplit(".", 1)[-1])) for path, kind in stack.values()]


def _by_fx(model: nn.Module, kinds: tuple[type[nn.Module], ...], functions: dict[Any, str]) -> ForwardReport:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = _Tracer(kinds).trace(model)
    methods = {name.split(".", 1)[1]: name for name in functions.values() if name.startswith("Tensor.")}
    report = ForwardReport(how="torch.fx")
    for node in graph.nodes:
        stack = _stack_paths(node)
        if node.op == "call_module":
            module = model.get_submodule(node.target)
            if isinstance(module, kinds):
                report.sites.setdefault(id(module), []).append(tuple(p for p, _ in stack[:-1]))
            continue
        name = None
        if node.op == "call_function":
            name = functions.get(node.target) if _hashable(node.target) else None
        elif node.op == "call_method":
            name = methods.get(node.target)
        if name:
            path, caller = stack[-1] if stack else ("", type(model).__name__)
            report.functional.append(FunctionalCall(name, caller, path))
    return report


def _hashable(target: Any) -> bool:
    try:
        hash(target)
    except TypeError:
        return False
    return True


class _Recorder(TorchFunctionMode):
    def __init__(self, functions: dict[Any, str], record: Any) -> None:
        super().__init__()
        self.functions, self.record = functions, record

    def __torch_function__(self, func: Any, types: Any, args: Sequence[Any] = (), kwargs: Any = None) -> Any:
        if _hashable(func) and func in self.functions:
            self.record(self.functions[func])
        return func(*args, **(kwargs or {}))


def _by_forward(model: nn.Module, kinds: tuple[type[nn.Module], ...], functions: dict[Any, str],
                example: Any) -> ForwardReport:
    report = ForwardReport(how="one forward pass")
    paths = {id(m): p for p, m in model.named_modules()}
    leaf = _Tracer(kinds)
    stack: list[nn.Module] = []

    def enter(module: nn.Module, args: Any) -> None:
        if isinstance(module, kinds):
            report.sites.setdefault(id(module), []).append(tuple(paths.get(id(m), "?") for m in stack[1:]))
        stack.append(module)

    def leave(module: nn.Module, args: Any, out: Any) -> None:
        if stack and stack[-1] is module:
            stack.pop()

    def record(name: str) -> None:
        inner = stack[-1] if stack else model
        if len(stack) > 1 and leaf.is_leaf_module(inner, paths.get(id(inner), "")):
            return  # inside a module a swap replaces, or inside torch's own module: not forward's call
        report.functional.append(FunctionalCall(name, type(inner).__name__, paths.get(id(inner), "?")))

    modes = {m: m.training for m in model.modules()}
    handles = []
    for module in model.modules():
        handles.append(module.register_forward_pre_hook(enter))
        handles.append(module.register_forward_hook(leave, always_call=True))
    try:
        model.eval()
        with torch.no_grad(), _Recorder(functions, record):
            model(*example) if isinstance(example, tuple) else model(example)
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes.items():
            module.training = training
    return report


def read_forward(model: nn.Module, kinds: tuple[type[nn.Module], ...], example: Any = None) -> ForwardReport:
    """Trace ``model``'s forward (or run it once on ``example`` when it does not trace); see the module."""
    functions = _functions(families_of(kinds))
    try:
        return _by_fx(model, kinds, functions)
    except Exception as error:  # noqa: BLE001 - any failure to trace means: read it another way
        why = f"torch.fx cannot trace it: {type(error).__name__}: {str(error).strip().splitlines()[0][:120]}" \
            if str(error).strip() else f"torch.fx cannot trace it: {type(error).__name__}"
    if example is None:
        return ForwardReport(unchecked=f"{why}; pass example=<an input batch> to check it with one forward pass")
    try:
        return _by_forward(model, kinds, functions, example)
    except Exception as error:  # noqa: BLE001 - the user's forward failing on the example is reported
        return ForwardReport(unchecked=f"{why}, and one forward pass on the example failed: "
                                       f"{type(error).__name__}: {str(error).strip()[:120]}")


def describe_functional(calls: Sequence[FunctionalCall], limit: int = 4) -> str:
    """'forward of ResBlock calls torch.nn.functional.relu (2 sites), ...' grouped by caller class."""
    groups: dict[tuple[str, str], list[str]] = {}
    for call in calls:
        groups.setdefault((call.caller, call.name), []).append(call.path)
    parts = []
    for (caller, name), paths in list(groups.items())[:limit]:
        modules = len(set(paths))
        where = f" in {modules} modules" if modules > 1 else ""
        parts.append(f"forward of {caller} calls {name} ({len(paths)} site{'s' * (len(paths) > 1)}{where})")
    more = f" and {len(groups) - limit} more" if len(groups) > limit else ""
    return ", ".join(parts) + more


def common_caller(stacks: Sequence[tuple[str, ...]]) -> str:
    """The path of the innermost module whose forward runs every one of these calls ('' for the model)."""
    common = list(stacks[0])
    for stack in stacks[1:]:
        n = 0
        while n < min(len(common), len(stack)) and common[n] == stack[n]:
            n += 1
        common = common[:n]
    return common[-1] if common else ""
