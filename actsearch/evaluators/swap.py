"""Put an activation into an existing model: replace its activation modules, wherever they are.

``swap_activations(model, act, kinds=(nn.ReLU,))`` walks every submodule (nested containers,
plain attributes, ``ModuleList`` / ``ModuleDict`` entries), replaces each module that is an
instance of one of ``kinds`` by a fresh module of ``act`` (so learnable constants are per place,
and a module shared by two places becomes two), and returns how many it replaced. ``act`` may be
expression text, a library name, an :class:`~actsearch.grammar.Activation`, a module class (such
as the one ``actsearch export`` writes) or a module instance (copied for each place). Functional
calls (``F.relu(x)``, ``torch.relu``, ``x.relu()``) are code, not modules, and cannot be swapped:
a model with no matching module is a :class:`SwapError` that says so.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from typing import Any

from torch import nn

from actsearch.errors import UserError


class SwapError(UserError):
    """No module to replace, or an activation that cannot be made into modules."""


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


def swap_activations(model: nn.Module, act: Any, kinds: tuple[type[nn.Module], ...] | type[nn.Module] = (nn.ReLU,),
                     ) -> int:
    """Replace every module of ``kinds`` inside ``model`` by a fresh ``act``; return how many."""
    if not isinstance(model, nn.Module):
        raise SwapError(f"swap_activations needs an nn.Module, got {type(model).__name__}")
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if not kinds or not all(inspect.isclass(k) and issubclass(k, nn.Module) for k in kinds):
        raise SwapError("kinds must be nn.Module classes, e.g. (nn.ReLU, nn.GELU)")
    factory = activation_factory(act)
    places = [(parent, name) for parent in model.modules()
              for name, child in parent._modules.items() if child is not None and isinstance(child, kinds)]
    names = ", ".join(k.__name__ for k in kinds)
    if not places:
        if isinstance(model, kinds):
            raise SwapError(f"the model itself is a {type(model).__name__}; swap it by using the new activation")
        raise SwapError(f"found no {names} module in {type(model).__name__}; functional calls such as F.relu "
                        "or torch.relu inside forward() cannot be swapped (use nn.ReLU modules)")
    for parent, name in places:  # all found first: a replacement is never searched again
        parent._modules[name] = factory()
    return len(places)
