"""The values a candidate's learnable constants reached by the end of training, as seed metrics.

A candidate such as ``x * sigmoid(beta * x)`` starts every layer's β at its initial value and
training moves each one; after the last step, one pass over the network's candidate modules
(no forward) reads them back. Per constant name the seed's metrics get the mean over the
network's activation instances (every layer, and every channel of a per-channel constant) under
``learned.NAME`` and their population standard deviation under ``learned.NAME.sd``
(:data:`~actsearch.evaluators.result.LEARNED`, the one home of the prefix). The results layer
folds them over seeds (:mod:`actsearch.results.learned`).

Which modules are the candidate's: those of the network whose kind — the module's type and,
for a compiled candidate, its expression text — is that of a module the candidate's factory made,
found by type after training (so a head activation and a module the user's builder copied count
too). Their constants: a compiled candidate's named constants; any other module's own parameters
(``nn.PReLU``'s ``weight``). A candidate without constants stores none.

The stacked engines hold every member's constants in stacked tensors; each reads its members' own
slices into :func:`metrics` (``learned()`` of :class:`~actsearch.evaluators.training.stacked_mlp.StackedMLP`
and :class:`~actsearch.evaluators.training.stacked.StackedNet`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import nn

from actsearch.evaluators.result import LEARNED, LEARNED_SD
from actsearch.grammar.compile import ActivationModule

Values = dict[str, list[torch.Tensor]]  # constant name -> its tensors, one per activation instance


def _kind(module: nn.Module) -> tuple[type, str | None]:
    return type(module), module.text if isinstance(module, ActivationModule) else None


def constant_names(module: nn.Module) -> list[str]:
    """The names of a candidate module's learned constants."""
    if isinstance(module, ActivationModule):
        return list(module.names)
    return [name for name, _ in module.named_parameters(recurse=False)]


def candidate_modules(model: nn.Module, made: Iterable[nn.Module]) -> list[tuple[str, nn.Module]]:
    """(path, module) of every module of ``model`` of the kind of one in ``made`` (the modules the
    candidate's factory made), in the network's order; each instance once."""
    kinds = {_kind(m) for m in made}
    return [(path, m) for path, m in model.named_modules() if _kind(m) in kinds] if kinds else []


def metrics(values: Values) -> dict[str, float]:
    """Per constant: the mean and population sd of its finite values (instances × channels), as
    metrics; a constant without one (a network that diverged) is left out."""
    out: dict[str, float] = {}
    for name, tensors in values.items():
        if not tensors:
            continue
        flat = torch.cat([t.detach().reshape(-1).double().cpu() for t in tensors])
        flat = flat[flat.isfinite()]
        if flat.numel():
            out[LEARNED + name] = float(flat.mean())
            out[LEARNED + name + LEARNED_SD] = float(flat.std(correction=0)) if flat.numel() > 1 else 0.0
    return out


def of_modules(modules: Iterable[nn.Module]) -> dict[str, float]:
    """The learned-constant metrics of these activation instances."""
    values: Values = {}
    for module in modules:
        for name in constant_names(module):
            values.setdefault(name, []).append(getattr(module, name))
    return metrics(values)


def of_network(model: nn.Module, made: Sequence[nn.Module]) -> dict[str, float]:
    """The learned-constant metrics of the candidate's modules inside a trained ``model``."""
    return of_modules(m for _, m in candidate_modules(model, made))


class Recorder:
    """A module factory that keeps what it made, for a task that trains the modules in its own code
    (a user's function, a toy task): ``learned()`` reads their constants after training."""

    def __init__(self, factory: Any) -> None:
        self.factory = factory
        self.made: list[nn.Module] = []

    def __call__(self) -> nn.Module:
        module = self.factory()
        if isinstance(module, nn.Module):
            self.made.append(module)
        return module

    def learned(self) -> dict[str, float]:
        """The learned-constant metrics of every module made so far (each instance once)."""
        return of_modules({id(m): m for m in self.made}.values())


def pooled(parts: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Learned-constant metrics of several networks (a panel's members, one seed) as one: per
    constant, the mean of the networks' means (each network weighs the same) and the sd of the
    pooled instances, each network's spread about its own mean plus its mean's distance from the
    common one, √(mean(sdᵢ² + (meanᵢ − mean)²))."""
    out: dict[str, float] = {}
    names = dict.fromkeys(k[len(LEARNED):] for part in parts for k in part
                          if k.startswith(LEARNED) and not k.endswith(LEARNED_SD))
    for name in names:
        pairs = [(part[LEARNED + name], part.get(LEARNED + name + LEARNED_SD, 0.0)) for part in parts
                 if LEARNED + name in part]
        mean = math.fsum(m for m, _ in pairs) / len(pairs)
        out[LEARNED + name] = mean
        out[LEARNED + name + LEARNED_SD] = math.sqrt(math.fsum(s * s + (m - mean) ** 2 for m, s in pairs) / len(pairs))
    return out
