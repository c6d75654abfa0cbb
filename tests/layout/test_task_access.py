"""What a task can do is asked through the Task base, never probed: no ``getattr``/``hasattr`` on a
task object outside the base (``evaluators/task.py``) and the protocol check (``evaluators/protocol.py``),
and ``table:`` / ``panel:`` references parsed in one module (``evaluators/reference.py``)."""

from __future__ import annotations

import ast
from pathlib import Path

import actsearch

ROOT = Path(actsearch.__file__).parent
TASK_HOMES = {"evaluators/task.py", "evaluators/protocol.py"}
PREFIX_HOME = "evaluators/reference.py"


def _sources():
    for path in sorted(ROOT.rglob("*.py")):
        yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text())


def _names_a_task(node: ast.expr) -> bool:
    """``task``, ``self.task``, ``member_task``...: an expression whose last name says it is a task."""
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
    return name == "task" or name.endswith("_task") or name.startswith("task_")


def test_no_attribute_probe_on_a_task_outside_its_base():
    probes = []
    for rel, tree in _sources():
        if rel in TASK_HOMES:
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("getattr", "hasattr") and node.args and _names_a_task(node.args[0])):
                probes.append(f"{rel}:{node.lineno}: {ast.unparse(node)}")
    assert not probes, "\n".join(probes)


def test_task_reference_prefixes_are_parsed_in_one_module():
    parses = []
    for rel, tree in _sources():
        if rel == PREFIX_HOME:
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("startswith", "removeprefix", "partition", "split")
                    and any(isinstance(a, ast.Constant) and a.value in ("table:", "panel:") for a in node.args)):
                parses.append(f"{rel}:{node.lineno}: {ast.unparse(node)}")
    assert not parses, "\n".join(parses)


def test_the_checks_see_what_they_look_for():
    """The two scans find a probe and a prefix parse where they are allowed (so they can fail)."""
    base = ast.parse((ROOT / "evaluators" / "task.py").read_text())
    ref = ast.parse((ROOT / PREFIX_HOME).read_text())
    assert any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("getattr", "hasattr")
               for n in ast.walk(base))
    assert any(isinstance(n, ast.Constant) and n.value in ("table:", "panel:") for n in ast.walk(ref))
