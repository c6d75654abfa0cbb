"""Searchers by name: the built-in strategies, searchers registered from Python, installed ones.

A searcher is named by

- a built-in name (``SEARCHERS``: each strategy is one module behind the ``Searcher`` interface,
  ``base.py``);
- a name given to :func:`register_searcher` (``@register_searcher("mine")`` on a class, or
  ``register_searcher("mine", "package.module:Class")``), in this process;
- the name of an entry point in the group ``actsearch.searchers`` of an installed package
  (``[project.entry-points."actsearch.searchers"] mine = "package.module:Class"``), so that
  ``actsearch search --searcher mine`` runs it;
- ``package.module:Class``, a class of an importable module.

:func:`make_searcher` builds one from a name or a class; :func:`searcher_names` lists every name
it takes; :func:`recorded_name` is how a run directory records a searcher so that a resume in
another process rebuilds it. Classes named by text are imported on first use (the torch-backed
controller loads only when asked). Every searcher must pass ``tests/search/test_searcher_contract.py``;
a package's own tests can run that suite on its searcher (``tests/search/test_plugins.py`` shows how).
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from typing import TYPE_CHECKING, Any, TypeVar

from actsearch.errors import UserError
from actsearch.search.searchers.base import FINISHED, WAIT, Outcome, Proposal, Searcher

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

ENTRY_POINT_GROUP = "actsearch.searchers"
# The built-in searchers, name -> "module:Class".
_BUILTIN = {
    "exhaustive": "actsearch.search.searchers.exhaustive:Exhaustive",
    "random": "actsearch.search.searchers.random:RandomSearch",
    "evolution": "actsearch.search.searchers.evolution:Evolution",
    "rl": "actsearch.search.searchers.rl:RLController",
    "surrogate": "actsearch.search.searchers.surrogate:SurrogateSearcher",
}
SEARCHERS = tuple(_BUILTIN)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_added: dict[str, str | type[Searcher]] = {}  # names registered in this process
S = TypeVar("S", bound=type[Searcher])

__all__ = ["ENTRY_POINT_GROUP", "FINISHED", "SEARCHERS", "WAIT", "Outcome", "Proposal", "Searcher", "SearcherError",
           "make_searcher", "recorded_name", "register_searcher", "searcher_class", "searcher_names",
           "searcher_origins"]


class SearcherError(UserError):
    """An unknown searcher name, a class that is not a searcher, or an option it does not take."""


def register_searcher(name: str, target: str | type[Searcher] | None = None) -> Any:
    """Make ``name`` name a searcher: ``register_searcher("mine", Mine)``,
    ``register_searcher("mine", "package.module:Mine")`` (imported on first use), or as a decorator,
    ``@register_searcher("mine")`` above ``class Mine(Searcher)``. A built-in name may not be
    taken; registering a name again replaces what it named."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise SearcherError(f"a searcher name is letters, digits, '-', '_' and '.', got {name!r}")
    if name in _BUILTIN:
        raise SearcherError(f"{name!r} is a built-in searcher; register yours under another name")

    def add(cls: S) -> S:
        _check_target(cls, name)
        _added[name] = cls
        return cls

    if target is None:
        return add
    if isinstance(target, str):
        _split(target)  # a bad reference is refused now; the module is imported on first use
        _added[name] = target
        return target
    return add(target)


def searcher_names() -> tuple[str, ...]:
    """Every name :func:`make_searcher` takes: built-in, registered, then installed entry points."""
    return tuple(searcher_origins())


def searcher_origins() -> dict[str, str]:
    """Every searcher name with where it comes from (``actsearch searchers``); nothing is imported."""
    out = {name: "built-in" for name in SEARCHERS}
    for name, target in _added.items():
        out[name] = "registered " + (target if isinstance(target, str) else f"{target.__module__}:{target.__qualname__}")
    for ep in _entry_points():
        dist = getattr(ep, "dist", None)
        out.setdefault(ep.name, f"entry point {ep.value}" + (f" ({dist.name})" if dist is not None else ""))
    return out


def searcher_class(name: str | type[Searcher]) -> type[Searcher]:
    """The class a name (or ``module:Class`` reference) stands for; a class is checked and returned."""
    if isinstance(name, type):
        return _check_target(name, name.__name__)
    if not isinstance(name, str):
        raise SearcherError(f"a searcher is named by text or given as a Searcher class, got {type(name).__name__}")
    target: str | type[Searcher] | None = _BUILTIN.get(name) or _added.get(name)
    if target is None and ":" in name:
        target = name
    if target is None:
        target = next((ep.value for ep in _entry_points() if ep.name == name), None)
    if target is None:
        raise SearcherError(f"unknown searcher {name!r}; valid: {', '.join(searcher_names())} "
                            f"(or package.module:Class; installed packages add names in the "
                            f"{ENTRY_POINT_GROUP!r} entry-point group)")
    return _load(target, name) if isinstance(target, str) else target


def make_searcher(name: str | type[Searcher], space: Any, *, seed: int = 0, **kw: Any) -> Searcher:
    """A fresh searcher over ``space`` (a Space, or a preset name / TOML path), built as
    ``Class(space, seed=seed, **options)``. A class that does not set its own ``name`` is known (in
    the run's rows and checkpoints) by the name it was made by."""
    cls = searcher_class(name)
    label = name if isinstance(name, str) else f"{cls.__module__}:{cls.__qualname__}"
    if isinstance(space, str):
        from actsearch.search.space.files import load_space

        space = load_space(space)
    try:
        inspect.signature(cls).bind(space, seed=seed, **kw)
    except TypeError as err:
        raise SearcherError(f"searcher {label!r}: {err}") from None
    try:
        searcher = cls(space, seed=seed, **kw)
    except (TypeError, ValueError) as err:  # an option of the wrong type or out of range
        raise SearcherError(f"searcher {label!r}: bad option ({err})") from None
    if cls.name == Searcher.name:
        searcher.name = label
    return searcher


def recorded_name(searcher: str | type[Searcher] | Searcher) -> str | None:
    """How a run directory records ``searcher`` so that another process (a resume, ``actsearch
    resume``) can build it again: a built-in or entry-point name as it is, a ``module:Class``
    reference for a class importable from a module (a name registered in this process stands for
    its class), None for a class another process could not import (defined in ``__main__``, a
    notebook, inside a function). An unknown name is a :class:`SearcherError`."""
    if isinstance(searcher, str):
        if searcher in _BUILTIN or (searcher not in _added and ":" not in searcher):
            searcher_class(searcher)  # an entry point (or an unknown name: the error)
            return searcher
        target = _added.get(searcher, searcher)
        if isinstance(target, str):
            _split(target)
            return _short_name(target) or target
        searcher = target
    cls = searcher if isinstance(searcher, type) else type(searcher)
    ref = f"{cls.__module__}:{cls.__qualname__}"
    if _short_name(ref) is not None:
        return _short_name(ref)
    module = sys.modules.get(cls.__module__)
    if module is None or cls.__module__ in ("__main__", "__mp_main__") or "<locals>" in cls.__qualname__:
        return None
    found: Any = module
    for part in cls.__qualname__.split("."):
        found = getattr(found, part, None)
    return ref if found is cls else None


def _short_name(ref: str) -> str | None:
    """The built-in or entry-point name of the class ``module:Class`` names, if it has one."""
    for name, target in _BUILTIN.items():
        if target == ref:
            return name
    return next((ep.name for ep in _entry_points() if ep.value == ref), None)


def _entry_points() -> list[EntryPoint]:
    from importlib.metadata import entry_points  # on use: `actsearch --help` does not pay for it

    return list(entry_points(group=ENTRY_POINT_GROUP))


def _split(ref: str) -> tuple[str, str]:
    module, _, attr = ref.partition(":")
    if not module or not all(p.isidentifier() for p in module.split(".")) \
            or not attr or not all(p.isidentifier() for p in attr.split(".")):
        raise SearcherError(f"searcher reference {ref!r}: expected package.module:Class")
    return module, attr


def _load(ref: str, name: str) -> type[Searcher]:
    """Import ``module:Class`` (its import errors are one line naming it)."""
    module_name, attr = _split(ref)
    try:
        found: Any = importlib.import_module(module_name)
    except Exception as err:  # the module's own code: any failure is the user's to see, in one line
        raise SearcherError(f"searcher {name!r}: cannot import {module_name}: {type(err).__name__}: "
                            f"{' '.join(str(err).split())[:200]}") from None
    for part in attr.split("."):
        found = getattr(found, part, None)
    if found is None:
        raise SearcherError(f"searcher {name!r}: {module_name} has no {attr}")
    return _check_target(found, name)


def _check_target(cls: Any, name: str) -> type[Searcher]:
    if not (isinstance(cls, type) and issubclass(cls, Searcher)):
        raise SearcherError(f"searcher {name!r}: {cls!r} is not a Searcher subclass "
                            "(actsearch.Searcher: ask, tell, state, load_state)"[:300])
    return cls

