"""Torch source code from the grammar's expression tree (for the standalone export).

The tree (nested tuples from :func:`actsearch.grammar.parse.parse_tree`, see
:mod:`actsearch.grammar.nodes`) is first prepared exactly as the grammar's compiler prepares it
(:func:`actsearch.grammar.compile.prepare`: constants folded, overflow-prone patterns rewritten to
softplus/sigmoid/relu, silu fused), then printed node by node from the export forms of the
function table (:mod:`actsearch.grammar.functions`, the records the compiler reads too), so the
exported module computes the same values and gradients. Nothing of the input text is copied:
identifiers are the table's torch names and the parameter names the grammar accepted (checked
again against a strict pattern), numbers are printed with ``repr(float)``. The result is TorchScript-compatible.
"""

from __future__ import annotations

import builtins
import keyword
import math
import re

from actsearch.errors import UserError, shorten
from actsearch.grammar.functions import FUNCTIONS, PRECEDENCE, Function

Node = tuple
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
PARAM = re.compile(r"(alpha|beta|gamma)(\d+|_\d+)?")
INLINE_DEPTH = 24  # deeper trees are printed as a sequence of assignments
# names the generated module itself uses (imports, module constants, forward's locals): a class
# of one of these names would shadow it
WORDLESS = ("neg", "add", "sub", "mul", "div")  # operations that give the class name no word
RESERVED = ("torch", "nn", "F", "math", "Tensor", "EXPRESSION", "INITIAL_PARAMS", "x", "self", "p", "shape",
            "per_channel")

def _number(value: float) -> str:
    value = float(value)
    if not math.isfinite(value):
        raise UserError(f"cannot export a non-finite constant ({value})")
    return repr(value)


def param_ident(name: str) -> str:
    """``name`` when it is a valid learnable-constant name, else UserError."""
    if not isinstance(name, str) or not PARAM.fullmatch(name):
        raise UserError(f"bad parameter name {name!r}")
    return name


def _is_tensor(node: Node) -> bool:
    """Whether the printed node is a tensor: everything but a number (operations on numbers alone
    are folded by ``prepare``, and the printer makes the rest tensors like the compiler does)."""
    return node[0] != "num"


def _depth(node: Node) -> int:
    depth, stack = 0, [(node, 1)]
    while stack:  # iterative: trees may be as deep as the grammar allows
        n, d = stack.pop()
        depth = max(depth, d)
        if n[0] not in ("x", "num", "param"):
            stack.extend((c, d + 1) for c in n[1:])
    return depth


class _Printer:
    """Prints a prepared tree as one expression or, with ``flat``, as ``tN = ...`` lines.

    Parentheses follow Python's precedence, and a right operand of the same precedence is
    always wrapped, so the evaluation order (and every float rounding) is the tree's."""

    def __init__(self, flat: bool) -> None:
        self.flat = flat
        self.lines: list[str] = []
        self.names: dict[Node, str] = {}

    def prec(self, node: Node) -> int:
        if node[0] == "num":
            return 3 if math.copysign(1.0, node[1]) < 0 else 5
        if self.flat and node in self.names:
            return 5
        return PRECEDENCE.get(node[0], 5)  # the language's operators bind as Python's do

    def wrap(self, node: Node, below: int) -> str:
        text = self.expr(node)
        return f"({text})" if self.prec(node) < below else text

    def expr(self, node: Node) -> str:
        op = node[0]
        if op == "num":
            return _number(node[1])
        if op == "x":
            return "x"
        if op == "param":
            return param_ident(node[1])  # a local variable bound at the top of forward()
        if self.flat and node in self.names:
            return self.names[node]
        if op in ("max", "min") and len(node) == 3 and (node[1][0] == "num" or node[2][0] == "num"):
            value, other = (node[2][1], node[1]) if node[2][0] == "num" else (node[1][1], node[2])
            bound = "min" if op == "max" else "max"  # compiled as a clamp, like the grammar does
            text = f"torch.clamp({self.tensor(other)}, {bound}={_number(value)})"
        elif op not in FUNCTIONS or len(node) != FUNCTIONS[op].arity + 1:
            raise UserError(f"cannot export the operation {op!r}")
        else:
            text = self.apply(FUNCTIONS[op], node)
        if self.flat:
            self.names[node] = f"t{len(self.names)}"
            self.lines.append(f"{self.names[node]} = {text}")
            return self.names[node]
        return text

    def apply(self, fn: Function, node: Node) -> str:
        """The export form of ``fn`` applied to the printed children of ``node``."""
        if fn.operand is not None:  # the argument is an operand in the source, not a call argument
            arg = node[1]
            return fn.export.format(self.wrap(arg, fn.operand) if _is_tensor(arg) else self.tensor(arg))
        if fn.precedence is not None:  # a binary operator
            p = fn.precedence
            left = self.wrap(node[1], p + 1 if fn.name == "pow" else p)
            right = self.wrap(node[2], p + 1)
            if not _is_tensor(node[1]) and not _is_tensor(node[2]):
                left = f"torch.full_like(x, {self.expr(node[1])})"
            return fn.export.format(left, right)
        return fn.export.format(*(self.tensor(c) for c in node[1:]))  # a torch function of tensors

    def tensor(self, node: Node) -> str:
        """The argument of a torch function: numbers become tensors shaped like x."""
        text = self.expr(node)
        return text if _is_tensor(node) else f"torch.full_like(x, {text})"


def forward_lines(tree: Node) -> list[str]:
    """Python lines (without indentation) computing the activation of ``x`` from locals named
    like the parameters; the last line returns a tensor shaped like ``x``."""
    from actsearch.grammar.compile import prepare

    tree = prepare(tree)
    printer = _Printer(flat=_depth(tree) > INLINE_DEPTH)
    result = printer.expr(tree)
    if not any(n[0] == "x" for n in _nodes(tree)):  # a constant: still one value per element of x
        result = f"torch.zeros_like(x) + {printer.wrap(tree, 2) if not printer.flat else result}"
    return printer.lines + [f"return {result}"]


def _nodes(tree: Node) -> list[Node]:
    from actsearch.grammar.nodes import walk

    return walk(tree)


def check_class_name(name: str) -> None:
    """UserError (one line) unless ``name`` can name the generated class: an identifier of letters,
    digits and _ that is not a keyword, a builtin (``super``, ``print`` ...), a dunder
    (``__all__``), a name the module uses itself (:data:`RESERVED`), a temporary of forward
    (``t0``, ``t1`` ...) or a learnable-constant name."""
    shown = shorten(repr(name))
    if not isinstance(name, str) or not IDENT.fullmatch(name):
        raise UserError(f"class name must be a Python identifier of letters, digits and _ (at most 64), got {shown}")
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise UserError(f"class name {shown} is a Python keyword; choose another")
    if name.startswith("__") and name.endswith("__"):
        raise UserError(f"class name {shown} is a special (dunder) name; choose another")
    if name in dir(builtins):
        raise UserError(f"class name {shown} is a Python builtin; choose another")
    if name in RESERVED or re.fullmatch(r"t\d+", name) or PARAM.fullmatch(name):
        raise UserError(f"class name {shown} is a name the exported module uses itself; choose another")


def class_name(tree: Node, hint: str | None = None) -> str:
    """A readable identifier: ``hint`` when it is a safe one, else from the functions used."""
    if hint:
        check_class_name(hint)
        return hint
    words: list[str] = []
    for node in _nodes(tree):
        if node[0] in FUNCTIONS and node[0] not in WORDLESS:
            word = node[0].capitalize()
            if word not in words:
                words.append(word)
    name = "".join(words[:3]) or ("Polynomial" if any(n[0] == "x" for n in _nodes(tree)) else "Constant")
    return name + "Activation"
