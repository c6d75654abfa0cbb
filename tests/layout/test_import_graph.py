"""The import graph of actsearch, built from the source (ast; imports inside functions count too):
no cycles between modules, and no import that climbs a floor.

Floors, from the ground up: 0 ``actsearch`` itself, ``errors``, ``limits``; 1 ``grammar``;
2 ``evaluators`` and ``results``; 3 ``search``; 4 ``commands`` and ``cli``. A module may import
from its own floor and the floors below it only.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import actsearch

ROOT = Path(actsearch.__file__).parent
FLOORS = {"errors": 0, "limits": 0, "grammar": 1, "evaluators": 2, "results": 2, "search": 3,
          "commands": 4, "cli": 4}


def _module_name(path: Path) -> str:
    parts = ["actsearch", *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(), str(path))
        typing_only = {id(n) for stmt in ast.walk(tree) if isinstance(stmt, ast.If)
                       and ast.unparse(stmt.test).endswith("TYPE_CHECKING") for b in stmt.body for n in ast.walk(b)}
        for node in ast.walk(tree):
            if id(node) in typing_only:  # annotations only: not an import at run time
                continue
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for t in targets:
                while t and t not in modules:
                    t = t.rpartition(".")[0]
                if t and t.startswith("actsearch") and t != name:
                    graph[name].add(t)
    return graph


def _floor(module: str) -> int:
    parts = module.split(".")
    return FLOORS.get(parts[1], 0) if len(parts) > 1 else 0


def test_no_import_climbs_a_floor():
    bad = sorted(f"{m} (floor {_floor(m)}) imports {t} (floor {_floor(t)})"
                 for m, targets in _graph().items() for t in targets
                 if _floor(t) > _floor(m) and m != "actsearch")
    assert not bad, "\n".join(bad)


def test_no_import_cycles():
    graph = _graph()
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, "\n".join(" <-> ".join(c) for c in cycles)


def test_the_graph_sees_lazy_imports():
    graph = _graph()
    assert "actsearch.search.rundir.run" in graph["actsearch.commands.search"]  # imported inside a function
