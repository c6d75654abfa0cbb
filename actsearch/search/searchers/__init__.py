"""Searcher registry: ``make_searcher(name, space, seed=..., **options)``.

Each strategy is one module behind the ``Searcher`` interface (``base.py``); ``SEARCHERS`` names
them. Every registered searcher must pass ``tests/search/test_searcher_contract.py``.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from actsearch.errors import UserError
from actsearch.search.searchers.base import FINISHED, WAIT, Proposal, Searcher

# name -> "module:Class" (imported on use, so the torch-backed controller loads only when asked)
_REGISTRY = {
    "exhaustive": "actsearch.search.searchers.exhaustive:Exhaustive",
    "random": "actsearch.search.searchers.random:RandomSearch",
    "evolution": "actsearch.search.searchers.evolution:Evolution",
    "rl": "actsearch.search.searchers.rl:RLController",
    "surrogate": "actsearch.search.searchers.surrogate:SurrogateSearcher",
}
SEARCHERS = tuple(_REGISTRY)

__all__ = ["FINISHED", "SEARCHERS", "WAIT", "Proposal", "Searcher", "SearcherError", "make_searcher"]


class SearcherError(UserError):
    """An unknown searcher name or an option the searcher does not take."""


def searcher_class(name: str) -> type[Searcher]:
    if name not in _REGISTRY:
        raise SearcherError(f"unknown searcher {name!r}; valid: {', '.join(SEARCHERS)}")
    module, cls = _REGISTRY[name].split(":")
    return getattr(importlib.import_module(module), cls)


def make_searcher(name: str, space: Any, *, seed: int = 0, **kw: Any) -> Searcher:
    """A fresh searcher over ``space`` (a Space, or a preset name / TOML path)."""
    cls = searcher_class(name)
    if isinstance(space, str):
        from actsearch.search.space.core import load_space

        space = load_space(space)
    try:
        inspect.signature(cls).bind(space, seed=seed, **kw)
    except TypeError as err:
        raise SearcherError(f"searcher {name!r}: {err}") from None
    try:
        return cls(space, seed=seed, **kw)
    except (TypeError, ValueError) as err:  # an option of the wrong type or out of range
        raise SearcherError(f"searcher {name!r}: bad option ({err})") from None
