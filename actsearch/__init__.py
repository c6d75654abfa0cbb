"""actsearch: search for neural-network activation functions.

The public API is small and imported lazily, so ``import actsearch`` stays fast::

    act = actsearch.parse("x * sigmoid(beta * x)", beta=1.0)
    act.fingerprint, act.canonical, act.module(), act.properties()
    actsearch.get("smelu", beta=1.0)          # a named activation from the literature
    run = actsearch.open_run("runs/my-search")  # leaderboard, best, export
    run = actsearch.run_search(space="quick", searcher="random", task="digits", budget=10)  # in memory
"""

from __future__ import annotations

from typing import Any

from actsearch.errors import UserError

__version__ = "0.1.0"

_LAZY = {
    "parse": "actsearch.grammar",
    "Activation": "actsearch.grammar",
    "ExpressionError": "actsearch.grammar",
    "get": "actsearch.grammar.library",
    "library": "actsearch.grammar.library",
    "open_run": "actsearch.results",
    "run_search": "actsearch.search.runner.api",
}

__all__ = ["UserError", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name])
        value = module if name == "library" else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'actsearch' has no attribute {name!r}")
