"""Put an activation into an existing model: replace its activation modules, wherever they are.

``swap_activations(model, act, kinds=(nn.ReLU,))`` walks every submodule (nested containers,
plain attributes, ``ModuleList`` / ``ModuleDict`` entries), replaces each module that is an
instance of one of ``kinds`` (a class, or a tuple / list of classes) by a fresh module of ``act``
(so learnable constants are per place, and a module shared by two places becomes two), and returns
how many candidate instances it put in. ``act`` may be expression text, a library name, an
:class:`~actsearch.grammar.Activation`, a module class (such as the one ``actsearch export``
writes) or a module instance (copied for each place).

Before it swaps, it reads ``forward`` (:mod:`actsearch.evaluators.swapcheck`: ``torch.fx`` where
the model traces, else one forward pass on ``example`` when given) for what a module swap misses:

- **Functional calls** (``F.relu(x)``, ``torch.relu``, ``x.relu()``) are code, not modules, and
  are not swapped: a :class:`SwapWarning` names them and where they are; with ``strict=True`` they
  are a :class:`SwapUnreachedError` and the model is left as it was (so is a forward that could
  not be read).
- **A module called at several sites** (torchvision's ``BasicBlock`` calls ``self.relu`` twice):
  by default the sites share the one instance that replaces it, and so its learnable constants; a
  :class:`SwapWarning` says so when the candidate has any. ``per_call_site=True`` gives each call
  its own instance: the module is replaced by a :class:`PerCallSite` holding one instance per call
  site and handing call *i* of a forward pass instance *i*; it counts from 0 again when the
  forward of the innermost module running every site begins (a forward pre-hook there). That needs
  forward read (traced, or run on ``example``), and a forward that calls the module a fixed number
  of times.
- **Nothing to replace** is a :class:`SwapError` that lists the activation-like modules of other
  classes it found (a library's own ``GELU``) and how to pass them as ``kinds``, or, when there are
  none, the functional calls it found.
"""

from __future__ import annotations

import copy
import inspect
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from actsearch.errors import UserError
from actsearch.evaluators.swapcheck import (
    ForwardReport,
    activation_like,
    common_caller,
    describe_functional,
    read_forward,
)


class SwapError(UserError):
    """No module to replace, or an activation that cannot be made into modules."""


class SwapUnreachedError(SwapError):
    """``strict=True`` and forward calls activations that no module swap reaches (or was not read)."""


class SwapWarning(UserWarning):
    """Something a module swap did not reach, or a candidate instance shared by several call sites."""


class PerCallSite(nn.Module):
    """One candidate instance per call site of a replaced module: call ``i`` of a pass gets ``sites[i]``."""

    def __init__(self, sites: list[nn.Module]) -> None:
        super().__init__()
        self.sites = nn.ModuleList(sites)
        self.calls = 0

    def restart(self, module: nn.Module, args: Any) -> None:
        """Forward pre-hook of the module whose forward makes every call: a new pass starts at site 0."""
        self.calls = 0

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        site = self.sites[self.calls % len(self.sites)]
        self.calls += 1
        return site(*args, **kwargs)


def activation_factory(act: Any) -> Callable[[], nn.Module]:
    """A zero-argument callable making a fresh ``nn.Module`` of ``act`` each call."""
    if isinstance(act, nn.Module):
        return lambda: copy.deepcopy(act)
    if inspect.isclass(act):
        if not issubclass(act, nn.Module):
            raise SwapError(f"cannot swap in the class {act.__name__}: it is not an nn.Module")
        return act
    if isinstance(act, str) or (hasattr(act, "module") and hasattr(act, "trivial")):
        from actsearch.evaluators.candidate import as_candidate

        return as_candidate(act).factory
    if callable(act):
        def made() -> nn.Module:
            module = act()
            if not isinstance(module, nn.Module):
                raise SwapError(f"the activation factory returned a {type(module).__name__}, not an nn.Module")
            return module

        return made
    raise SwapError(f"cannot swap in a {type(act).__name__}; expected expression text, a library name, an "
                    "Activation, or an nn.Module class or instance")


def _kinds(kinds: Any) -> tuple[type[nn.Module], ...]:
    """``kinds`` as a tuple of module classes: one class, or a tuple, list or set of them."""
    found = tuple(kinds) if isinstance(kinds, (tuple, list, set, frozenset)) else (kinds,)
    for kind in found:
        if not (inspect.isclass(kind) and issubclass(kind, nn.Module)):
            what = f"an instance of {type(kind).__name__}" if isinstance(kind, nn.Module) else \
                f"a {type(kind).__name__}"
            raise SwapError(f"kinds must be nn.Module classes, e.g. (nn.ReLU, nn.GELU); got {what}")
    if not found:
        raise SwapError("kinds must be nn.Module classes, e.g. (nn.ReLU, nn.GELU); got none")
    return found


def _nothing_to_swap(model: nn.Module, kinds: tuple[type[nn.Module], ...], example: Any) -> SwapError:
    names = ", ".join(k.__name__ for k in kinds)
    if isinstance(model, kinds):
        return SwapError(f"the model itself is a {type(model).__name__}; swap it by using the new activation")
    found: dict[type, int] = {}
    for module in model.modules():
        if module is not model and activation_like(module):
            found[type(module)] = found.get(type(module), 0) + 1
    report = read_forward(model, kinds, example)
    # a call inside an activation-like module is reached by passing that module's class
    calls = [c for c in report.functional if not (c.path and activation_like(_module_at(model, c.path)))]
    parts = [f"found no {names} module in {type(model).__name__}"]
    if found:
        listed = ", ".join(f"{k.__name__} from {k.__module__} ({n})" for k, n in found.items())
        parts.append(f"its activation-like modules are {listed}: pass those classes, "
                     f"e.g. kinds=({next(iter(found)).__name__},)")
    if calls or not found:
        seen = f": {describe_functional(calls)}" if calls else \
            f" ({report.unchecked})" if report.unchecked else ", and its forward calls none of them"
        parts.append("functional calls such as F.relu or torch.relu inside forward() cannot be swapped "
                     f"(use {names} modules){seen}")
    return SwapError("; ".join(parts))


def _module_at(model: nn.Module, path: str) -> nn.Module:
    try:
        return model.get_submodule(path)
    except AttributeError:
        return model


def _check(model: nn.Module, report: ForwardReport, strict: bool, per_call_site: bool) -> None:
    """Warn about (or, when strict, refuse) what the swap will not reach; before anything changes."""
    where = type(model).__name__
    if report.unchecked:
        if strict or per_call_site:
            need = "strict=True" if strict else "per_call_site=True"
            raise SwapUnreachedError(f"{need} needs forward of {where} read, and it could not be: "
                                     f"{report.unchecked}")
        warnings.warn(SwapWarning(f"could not check forward of {where} for functional activations "
                                  f"({report.unchecked})"), stacklevel=3)
    elif report.functional:
        message = f"{describe_functional(report.functional)}: not swapped (functional calls are code, not modules)"
        if strict:
            raise SwapUnreachedError(message)
        warnings.warn(SwapWarning(message), stacklevel=3)


def _shared_sites(model: nn.Module, places: list[tuple[nn.Module, str]],
                  report: ForwardReport) -> dict[int, list[tuple[str, ...]]]:
    """Modules of kinds called at more sites than the places they sit in: their sites share an instance."""
    count: dict[int, int] = {}
    for parent, name in places:
        count[id(parent._modules[name])] = count.get(id(parent._modules[name]), 0) + 1
    return {key: stacks for key, stacks in report.sites.items() if len(stacks) > count.get(key, 0) > 0}


def _learnable(factory: Callable[[], nn.Module]) -> bool:
    """Whether ``factory``'s modules have learnable constants (one made aside; the random state kept)."""
    with torch.random.fork_rng(devices=[]):
        return any(True for _ in factory().parameters())


def swap_activations(model: nn.Module, act: Any, kinds: tuple[type[nn.Module], ...] | type[nn.Module] = (nn.ReLU,),
                     *, strict: bool = False, per_call_site: bool = False, example: Any = None) -> int:
    """Replace every module of ``kinds`` inside ``model`` by a fresh ``act``; return how many instances.

    ``strict``: refuse (:class:`SwapUnreachedError`, model unchanged) when forward still calls
    functional activations, or could not be read. ``per_call_site``: one instance per call site of a
    module that forward calls several times. ``example``: an input batch (or a tuple of inputs) to
    read forward with one pass when ``torch.fx`` cannot trace it. See the module's docstring.
    """
    if not isinstance(model, nn.Module):
        raise SwapError(f"swap_activations needs an nn.Module, got {type(model).__name__}")
    kinds = _kinds(kinds)
    factory = activation_factory(act)
    places = [(parent, name) for parent in model.modules()
              for name, child in parent._modules.items() if child is not None and isinstance(child, kinds)]
    if not places:
        raise _nothing_to_swap(model, kinds, example)
    report = read_forward(model, kinds, example)
    _check(model, report, strict, per_call_site)
    shared = _shared_sites(model, places, report)
    if shared and not per_call_site and _learnable(factory):
        paths = {id(m): p for p, m in model.named_modules()}
        listed = ", ".join(f"{paths.get(key, '?')} ({len(stacks)} sites)" for key, stacks in list(shared.items())[:3])
        more = f" and {len(shared) - 3} more" if len(shared) > 3 else ""
        warnings.warn(SwapWarning(f"{len(shared)} module{'s are' if len(shared) > 1 else ' is'} called at several "
                                  f"sites in forward: {listed}{more}; the sites of each share one instance and its "
                                  "learnable constants; pass per_call_site=True for one instance per site"),
                      stacklevel=2)
    made: dict[int, nn.Module] = {}
    if per_call_site:
        for key, stacks in shared.items():
            made[key] = PerCallSite([factory() for _ in stacks])
            model.get_submodule(common_caller(stacks)).register_forward_pre_hook(made[key].restart)
    swapped = 0
    for parent, name in places:  # all found first: a replacement is never searched again
        child = parent._modules[name]
        if id(child) in made:
            parent._modules[name] = made[id(child)]
        else:
            parent._modules[name] = factory()
            swapped += 1
    return swapped + sum(len(d.sites) for d in made.values())
