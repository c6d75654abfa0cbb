"""Statuses, roles and trial states are compared as enum members (``Status.OK``, ``Role.SEARCH``,
``TrialState.DONE``), never as string literals: a typo in ``r.status == "ok"`` would silently be
false, one in ``Status.OKK`` fails at once. Found in the source (ast) of every module of actsearch."""

from __future__ import annotations

import ast
from pathlib import Path

import actsearch

ROOT = Path(actsearch.__file__).parent
FIELDS = {"status", "role", "state"}


def _is_field(node: ast.AST) -> bool:
    """``x.status``, ``status``, ``row["status"]`` or ``row.get("status")`` (and role, state)."""
    if isinstance(node, ast.Attribute):
        return node.attr in FIELDS
    if isinstance(node, ast.Name):
        return node.id in FIELDS
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value in FIELDS
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
        return bool(node.args) and isinstance(node.args[0], ast.Constant) and node.args[0].value in FIELDS
    return False


def _has_text(node: ast.AST) -> bool:
    """A string literal, or a tuple/list/set holding one."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return any(_has_text(e) for e in node.elts)
    return False


def literal_comparisons(source: str, name: str = "<source>") -> list[str]:
    """``name:line: code`` for each status/role/state compared to (or passed as ``role=``) a string literal."""
    found = []
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            for left, op, right in zip(sides, node.ops, sides[1:], strict=False):
                if isinstance(op, (ast.In, ast.NotIn)):  # `status in ("ok", ...)`; not `"key" in state` (a dict)
                    hit = _is_field(left) and _has_text(right)
                else:
                    hit = (_is_field(left) and _has_text(right)) or (_has_text(left) and _is_field(right))
                if hit:
                    found.append(f"{name}:{node.lineno}: {ast.unparse(node)}")
                    break
        elif isinstance(node, ast.Call):
            found += [f"{name}:{node.lineno}: {ast.unparse(node)}" for kw in node.keywords
                      if kw.arg in FIELDS and _has_text(kw.value)]
    return found


def test_no_status_role_or_state_is_compared_to_a_string_literal():
    found = [hit for path in sorted(ROOT.rglob("*.py"))
             for hit in literal_comparisons(path.read_text(), str(path.relative_to(ROOT.parent)))]
    assert not found, "compare with the enum members (Status, Role, TrialState):\n" + "\n".join(found)


def test_the_check_finds_each_form_it_looks_for():
    code = ('r.status == "ok"\nif status in ("ok", "error"): pass\nrow["state"] != "done"\n'
            'run.get("status") == "ok"\nstore.candidates(role="search")\n"search" == rec.role\n')
    assert len(literal_comparisons(code)) == 6
    fine = ('r.status == Status.OK\nrow["state"] != TrialState.DONE\nstore.candidates(role=Role.SEARCH)\n'
            'r.expression == "x"\nhead = ["status", "error"]\nif "count" not in state: pass\n')
    assert literal_comparisons(fine) == []
