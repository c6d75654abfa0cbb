"""Text → expression tree: the lark LALR grammar in ``activation.lark`` plus name checks.

The lark parse tree is the only path from user text to an expression (no ``eval``, ``exec`` or
``sympify`` anywhere). Input is bounded before parsing (length, bracket depth) and the tree is
converted iteratively with a depth bound, so huge or deeply nested text gives an
:class:`ExpressionError` naming the position, never a ``RecursionError``.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from pathlib import Path

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from actsearch.errors import UserError, shorten
from actsearch.grammar.functions import CALLS
from actsearch.grammar.nodes import MAX_DEPTH, Node, X

MAX_LENGTH = 10_000  # characters
PARAM_RE = re.compile(r"(alpha|beta|gamma)(\d+|_\d+)?")
_KNOWN = ", ".join(sorted(CALLS))


class ExpressionError(UserError):
    """Bad expression text. ``pos`` is the 0-based character offset of the problem (or None);
    the message gives it as a 1-based column."""

    def __init__(self, message: str, pos: int | None = None) -> None:
        super().__init__(message)
        self.pos = pos


@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = (Path(__file__).with_name("activation.lark")).read_text()
    return Lark(grammar, parser="lalr", maybe_placeholders=True, propagate_positions=False)


def is_param_name(name: str) -> bool:
    """Whether ``name`` is a learnable-constant name (alpha, beta2, gamma_1 ...)."""
    return PARAM_RE.fullmatch(name) is not None


def parse_tree(text: str, variables: dict[str, Node] | None = None) -> Node:
    """Parse ``text`` into a node tree; ``variables`` maps names to leaves (default ``{"x": X}``)."""
    if not isinstance(text, str):
        raise ExpressionError(f"expression must be text, got {type(text).__name__}")
    if not text.strip():
        raise ExpressionError("empty expression", 0)
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"expression too long ({len(text)} characters; at most {MAX_LENGTH})", MAX_LENGTH
        )
    _check_brackets(text)
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as err:
        raise _syntax_error(text, err) from None
    return _convert(tree, variables or {"x": X})


def _check_brackets(text: str) -> None:
    depth = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
            if depth > MAX_DEPTH:
                raise ExpressionError(f"nesting deeper than {MAX_DEPTH} levels at column {i + 1}", i)
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ExpressionError(f"unmatched ')' at column {i + 1}", i)
    if depth > 0:
        raise ExpressionError(f"missing ')' at end of expression (column {len(text) + 1})", len(text))


def _syntax_error(text: str, err: UnexpectedInput) -> ExpressionError:
    pos = getattr(err, "pos_in_stream", None)
    if isinstance(err, UnexpectedEOF) or (isinstance(err, UnexpectedToken) and err.token.type == "$END"):
        return ExpressionError(f"unexpected end of expression at column {len(text) + 1}", len(text))
    if isinstance(err, UnexpectedCharacters):
        return ExpressionError(f"unexpected character {text[pos]!r} at column {pos + 1}", pos)
    if isinstance(err, UnexpectedToken):
        tok = err.token
        pos = tok.start_pos if tok.start_pos is not None else pos
        what = {"NAME": "name", "NUMBER": "number"}.get(tok.type, "symbol")
        return ExpressionError(f"unexpected {what} {shorten(tok)!r} at column {(pos or 0) + 1}", pos)
    return ExpressionError(f"syntax error at column {(pos or 0) + 1}", pos)


def _position(item: Tree | Token) -> int | None:
    while isinstance(item, Tree):
        if not item.children:
            return None
        item = item.children[0]
    return item.start_pos if isinstance(item, Token) else None


ASSOCIATIVE = ("add", "mul")  # chains of these longer than SHORT_CHAIN are rebuilt balanced
SHORT_CHAIN = 64  # up to this many terms a chain stays left-nested, as written


class _Chain:
    """The terms of an ``a + b + c ...`` (or ``*``) chain met so far, not yet built into nodes. Only
    the left operand continues a chain; a right operand of the same kind came in parentheses."""

    def __init__(self, op: str, pos: int | None) -> None:
        self.op, self.pos, self.terms = op, pos, []  # terms: (node, depth)

    def add(self, item: tuple[Node | _Chain, int], left: bool) -> None:
        node, _ = item
        if left and isinstance(node, _Chain) and node.op == self.op:
            self.terms.extend(node.terms)
        else:
            self.terms.append(_settle(item))


def _settle(item: tuple[Node | _Chain, int]) -> tuple[Node, int]:
    """A chain as nodes: left-nested when short (as the text reads), else a balanced tree, so that a
    sum of 150 terms is 8 levels deep, not 150 (the tree, printed, parses back to itself)."""
    node, depth = item
    if not isinstance(node, _Chain):
        return node, depth
    terms = node.terms
    if len(terms) <= SHORT_CHAIN:
        built, deep = terms[0]
        for term, d in terms[1:]:
            built, deep = (node.op, built, term), 1 + max(deep, d)
    else:
        built, deep = _balanced(node.op, terms)
    if deep > MAX_DEPTH:
        raise ExpressionError(f"expression nested deeper than {MAX_DEPTH} levels at column {(node.pos or 0) + 1}",
                              node.pos)
    return built, deep


def _balanced(op: str, terms: list[tuple[Node, int]]) -> tuple[Node, int]:
    if len(terms) == 1:
        return terms[0]
    mid = len(terms) // 2
    (left, dl), (right, dr) = _balanced(op, terms[:mid]), _balanced(op, terms[mid:])
    return (op, left, right), 1 + max(dl, dr)


def _convert(root: Tree | Token, variables: dict[str, Node]) -> Node:
    """Iterative post-order conversion of the lark tree, with a depth bound."""
    done: dict[int, tuple[Node | _Chain, int]] = {}  # id(lark item) -> (node or open chain, depth)
    stack: list[tuple[Tree | Token, bool]] = [(root, False)]
    while stack:
        item, expanded = stack.pop()
        if isinstance(item, Token):
            done[id(item)] = (_leaf(item, variables), 1)
            continue
        kids = [c for c in item.children if c is not None and not (isinstance(c, Token) and c.type == "POW")]
        if item.data == "call":
            kids = kids[1:2] if len(kids) > 1 else []
        if not expanded:
            stack.append((item, True))
            stack.extend((k, False) for k in kids)
            continue
        if item.data in ASSOCIATIVE:
            chain = _Chain(item.data, _position(item))
            for i, k in enumerate(kids):
                chain.add(done.pop(id(k)), left=i == 0)
            done[id(item)] = (chain, 0)
            continue
        node, depth = _build(item, [_settle(done.pop(id(k))) for k in kids], variables)
        if depth > MAX_DEPTH:
            pos = _position(item)
            raise ExpressionError(
                f"expression nested deeper than {MAX_DEPTH} levels at column {(pos or 0) + 1}", pos
            )
        done[id(item)] = (node, depth)
    return _settle(done[id(root)])[0]


def _leaf(tok: Token, variables: dict[str, Node]) -> Node:
    if tok.type == "NUMBER":
        value = float(tok)
        if not math.isfinite(value):
            raise ExpressionError(
                f"number {shorten(tok)!r} out of range at column {tok.start_pos + 1}", tok.start_pos
            )
        return ("num", value)
    return _name(tok, variables)


def _name(tok: Token, variables: dict[str, Node]) -> Node:
    name, pos = str(tok), tok.start_pos
    if name in variables:
        return variables[name]
    if is_param_name(name):
        return ("param", name)
    if name in CALLS:
        raise ExpressionError(f"function '{shorten(name)}' needs its argument in parentheses at column {pos + 1}", pos)
    raise ExpressionError(
        f"unknown name '{shorten(name)}' at column {pos + 1}; use x, a number, or a parameter "
        "alpha/beta/gamma (optionally followed by digits or _digits)",
        pos,
    )


def _build(item: Tree, kids: list[tuple[Node, int]], variables: dict[str, Node]) -> tuple[Node, int]:
    depth = 1 + max((d for _, d in kids), default=0)
    nodes = [n for n, _ in kids]
    data = item.data
    if data in ("number", "name"):
        return _leaf(item.children[0], variables), 1
    if data == "args":
        return ("args", *nodes), depth - 1
    if data == "call":
        tok = item.children[0]
        name, pos = str(tok), tok.start_pos
        args = list(nodes[0][1:]) if nodes else []
        if name not in CALLS:
            hint = " (parameters are not functions)" if is_param_name(name) or name in variables else ""
            raise ExpressionError(
                f"unknown function '{shorten(name)}' at column {pos + 1}{hint}; known: {_KNOWN}", pos
            )
        if len(args) != CALLS[name]:
            want = CALLS[name]
            raise ExpressionError(
                f"'{name}' takes {want} argument{'s' * (want > 1)}, got {len(args)} at column {pos + 1}", pos
            )
        return (name, *args), depth
    return (data, *nodes), depth
