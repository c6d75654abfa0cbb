"""Tree → torch: closures built straight from the node tree, wrapped in an ``nn.Module``.

Before closures are built the tree is prepared:

1. constant subtrees (no ``x``, no parameter) are folded to one number in float64;
2. :func:`~actsearch.grammar.nodes.stable` rewrites overflow-prone patterns
   (``log(1 + exp(u))`` → softplus, ``1/(1 + exp(-u))`` → sigmoid, ``max(u, 0)`` → relu);
3. fused forms use torch's own kernels: ``u * sigmoid(u)`` → ``silu(u)``;
4. a whole function without learnable constants whose fingerprint is that of one of torch's
   own activations (gelu, silu, elu, selu, softplus, relu, tanh, sigmoid) runs torch's
   kernel: ``0.5*x*(1 + erf(x/sqrt(2)))`` compiles to ``F.gelu``. (Not mish: torch 2.13's CPU
   ``F.mish`` forward+backward measured ~1.1× slower than the composed ``x*tanh(softplus(x))``.)

Steps 3–4 are the ``fast`` path (on by default); ``fast=False`` builds plain closures, which the
tests compare against torch's functions too.

Each node becomes a small Python closure ``f(x, args, params) -> Tensor``; the module calls
the root closure. Learnable constants are scalar ``nn.Parameter``s (or shape ``(C,)`` with
``per_channel=C``, broadcast over dim 1); :meth:`ActivationModule.apply` takes constants of any
broadcasting shape (a leading member dimension for batched training). The module works under ``torch.jit.trace`` and
``torch.compile``; ``torch.jit.script`` cannot compile Python closures (use trace, or the
module ``actsearch export`` writes). Each operation's torch callable, and the expression its
native kernel computes, are its record in :mod:`actsearch.grammar.functions`.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from actsearch.grammar import kernels
from actsearch.grammar.functions import FUNCTIONS, OPERATORS, Function
from actsearch.grammar.nodes import Node, evaluate, has_x, stable, walk

Fn = Callable[[torch.Tensor, tuple, dict], Any]
_NAMESPACES = {"torch": torch, "F": F, "kernels": kernels, "operator": operator}  # of the table's torch names


def torch_callable(fn: Function) -> Callable[..., Any]:
    """The torch callable a table record names (``"F.softplus"`` → ``torch.nn.functional.softplus``)."""
    space, attr = fn.torch.split(".")
    return getattr(_NAMESPACES[space], attr)


# the callables closures apply, read when a closure is built (benchmarks swap entries to compare kernels)
UNARY: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    name: torch_callable(f) for name, f in FUNCTIONS.items() if f.arity == 1
}
_BINARY: dict[str, Callable[[Any, Any], Any]] = {name: torch_callable(FUNCTIONS[name]) for name in OPERATORS}


def fold(node: Node) -> Node:
    """Fold constant subtrees (no x, no parameter, no operand) into one finite number."""
    op = node[0]
    if op in ("x", "num", "param", "arg"):
        return node
    kids = tuple(fold(c) for c in node[1:])
    node = (op, *kids)
    if all(k[0] == "num" for k in kids):
        value = float(evaluate(node, np.zeros(()), {}))
        if math.isfinite(value):
            return ("num", value)
    return node


def fuse(node: Node) -> Node:
    """Replace ``u*sigmoid(u)`` by ``silu(u)``."""
    op = node[0]
    if op in ("x", "num", "param", "arg"):
        return node
    node = (op, *(fuse(c) for c in node[1:]))
    if op == "mul":
        for u, v in ((node[1], node[2]), (node[2], node[1])):
            if v == ("sigmoid", u):
                return ("silu", u)
    return node


def prepare(node: Node) -> Node:
    """The tree the closures are built from (values unchanged)."""
    return fuse(stable(fold(node)))


# What torch's own activation kernels compute, in the expression language (the library's named
# functions of the same name are these texts; tests/grammar checks that they agree).
KERNEL_TEXTS = {name: f.kernel for name, f in FUNCTIONS.items() if f.kernel is not None}
_KERNELS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {name: UNARY[name] for name in KERNEL_TEXTS}


@lru_cache(maxsize=1)
def _native_table() -> dict[str, str]:
    from actsearch.grammar.fingerprint import fingerprint
    from actsearch.grammar.parse import parse_tree

    return {fingerprint(parse_tree(KERNEL_TEXTS[name])): name for name in _KERNELS}


def native_name(tree: Node) -> str | None:
    """The name of torch's own kernel when the (parameter-free) tree computes one of its
    activations (the function of that name in the expression language)."""
    if any(n[0] in ("param", "arg") for n in walk(tree)):
        return None
    from actsearch.grammar.fingerprint import fingerprint

    return _native_table().get(fingerprint(tree))


def native(tree: Node) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """torch's own kernel when the (parameter-free) tree computes one of its activations."""
    name = native_name(tree)
    return None if name is None else _KERNELS[name]


def build(tree: Node, fast: bool = True) -> Fn:
    """The closure for a whole tree: torch's kernel, or fused closures, or plain closures."""
    if fast:
        kernel = native(tree)
        if kernel is not None:
            return lambda x, a, p: kernel(x)
        return closure(prepare(tree))
    return closure(stable(fold(tree)))


def closure(node: Node) -> Fn:
    """A closure ``f(x, args, params)`` computing the tree (call :func:`prepare` first for speed)."""
    op = node[0]
    if op == "x":
        return lambda x, a, p: x
    if op == "num":
        value = node[1]
        return lambda x, a, p: value
    if op == "param":
        name = node[1]
        return lambda x, a, p: p[name]
    if op == "arg":
        i = node[1]
        return lambda x, a, p: a[i]
    if op in UNARY:
        f, g = UNARY[op], closure(node[1])
        return lambda x, a, p: f(_tensor(g(x, a, p), x))
    if op in ("max", "min"):
        return _minmax(op, node[1], node[2])
    if node[1][0] == "num" and node[2][0] == "num":  # left unfolded: not finite (1/0, 0/0, 2^1e4)
        with np.errstate(all="ignore"):
            value = float(evaluate(node, np.zeros(()), {}))
        return lambda x, a, p: value
    f, g, h = _BINARY[op], closure(node[1]), closure(node[2])
    return lambda x, a, p: f(g(x, a, p), h(x, a, p))


def _tensor(value: Any, x: torch.Tensor) -> torch.Tensor:
    return value if isinstance(value, torch.Tensor) else torch.full_like(x, value)


def _minmax(op: str, left: Node, right: Node) -> Fn:
    if right[0] == "num" or left[0] == "num":
        (value,), other = (right[1:], left) if right[0] == "num" else (left[1:], right)
        g = closure(other)
        if op == "max":
            return lambda x, a, p: torch.clamp(_tensor(g(x, a, p), x), min=value)
        return lambda x, a, p: torch.clamp(_tensor(g(x, a, p), x), max=value)
    f = torch.maximum if op == "max" else torch.minimum
    g, h = closure(left), closure(right)
    return lambda x, a, p: f(*torch.broadcast_tensors(_tensor(g(x, a, p), x), _tensor(h(x, a, p), x)))


class ActivationModule(nn.Module):
    """An elementwise activation compiled from an expression tree; learnable constants are
    ``nn.Parameter``s named as in the expression."""

    def __init__(
        self,
        tree: Node,
        params: dict[str, float],
        text: str,
        per_channel: int | None = None,
        fast: bool = True,
    ) -> None:
        super().__init__()
        self.text = text
        self.tree = tree
        self.per_channel = per_channel
        self.fast = fast
        self.names = list(params)
        for name, value in params.items():
            shape = (per_channel,) if per_channel else ()
            self.register_parameter(name, nn.Parameter(torch.full(shape, float(value))))
        self._fn = build(tree, fast)
        self._constant = not has_x(tree)  # output does not follow x's shape by itself

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the activation elementwise."""
        params = {n: getattr(self, n) for n in self.names}
        if self.per_channel and x.dim() > 1:
            shape = (1, -1) + (1,) * (x.dim() - 2)
            params = {n: v.view(shape) for n, v in params.items()}
        return self.apply(x, params)

    def apply(self, x: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """The function at ``x`` with the constants ``params`` instead of the module's own: any
        tensors that broadcast against ``x`` (e.g. shape ``(M, 1, 1)`` for ``M`` members stacked on
        dim 0, as the batched trainer does)."""
        out = _tensor(self._fn(x, (), params), x)
        return out.expand(x.shape) if self._constant else out

    def extra_repr(self) -> str:
        """The expression text (shown by ``print(module)``)."""
        extra = f", per_channel={self.per_channel}" if self.per_channel else ""
        return f"{self.text!r}{extra}"

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_fn", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._fn = build(self.tree, self.fast)
