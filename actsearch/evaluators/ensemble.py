"""A stacked ensemble: M child MLPs as one network with a leading member dimension.

The members are built one by one by the task's own builder (so each has exactly the
initialisation a separate run of its seed has) and their parameters are stacked: a linear layer
becomes ``W`` of shape (M, in, out) (the transpose of ``nn.Linear``'s, measured ~1.05× faster
than a transposed view) and ``b`` of shape (M, 1, out), applied with one ``baddbmm``; an
activation layer applies each candidate's function to its own contiguous slice of members, with that candidate's learnable constants held as (S,)-shaped tensors (one value per
member, broadcast over the member's hidden tensor). Every operation is per member, so a member's
values and gradients are those of its separate network up to the reassociation of sums.

:meth:`StackedMLP.keep` drops members (a diverged one is frozen by removing it) and returns the
row indices that carry each surviving tensor's optimizer state over.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from actsearch.grammar.compile import ActivationModule

MemberFn = Callable[[torch.Tensor, dict[str, torch.Tensor]], torch.Tensor]


def member_function(module: nn.Module, elementwise: bool) -> tuple[MemberFn, list[str]] | None:
    """``f(x, constants)`` for x with a leading member dimension, and the constants' names.

    A compiled candidate applies its closure with (S, 1, …)-shaped constants; a module without
    parameters known to be elementwise (a library module) is applied as it is. Anything else
    (a user's module) has no batched form: None.
    """
    if isinstance(module, ActivationModule) and not module.per_channel:
        def apply(x: torch.Tensor, consts: dict[str, torch.Tensor]) -> torch.Tensor:
            shape = (-1,) + (1,) * (x.dim() - 1)
            return module.apply(x, {n: v.view(shape) for n, v in consts.items()})

        return apply, list(module.names)
    if elementwise and not any(True for _ in module.parameters()):
        return (lambda x, consts: module(x)), []
    return None


def layers_of(model: nn.Module) -> list[nn.Module]:
    """The leaf layers of nested ``nn.Sequential`` containers, in order."""
    if isinstance(model, nn.Sequential):
        return [leaf for child in model for leaf in layers_of(child)]
    return [model]


def is_stackable(model: nn.Module) -> bool:
    """True for Linear → activation → … → Linear (→ activation), every Linear with a bias: the
    shape :class:`StackedMLP` runs."""
    layers = layers_of(model)
    linear = [isinstance(m, nn.Linear) for m in layers]
    return bool(linear) and linear[0] and all(a != b for a, b in zip(linear, linear[1:], strict=False)) \
        and all(m.bias is not None for m in layers if isinstance(m, nn.Linear))


@dataclass
class Group:
    """One candidate's members: rows ``start:stop`` of the pack and its constants per activation."""

    fn: MemberFn
    start: int
    stop: int
    consts: list[dict[str, torch.Tensor]] = field(default_factory=list)  # per activation layer


class StackedMLP:
    """M MLPs of one shape (one group of members per candidate) trained as one network."""

    def __init__(self, models: Sequence[nn.Module], groups: Sequence[tuple[MemberFn, list[str], int]]) -> None:
        """``models``: one per member, grouped as ``groups`` = (function, constant names, member count)."""
        per_model = [layers_of(m) for m in models]
        shape = per_model[0]
        self.weights: list[torch.Tensor] = []
        self.biases: list[torch.Tensor] = []
        self.n_acts = 0
        for i, layer in enumerate(shape):
            if isinstance(layer, nn.Linear):
                ws = [ls[i].weight.detach().t() for ls in per_model]
                bs = [ls[i].bias.detach() for ls in per_model]
                self.weights.append(torch.stack(ws).clone().requires_grad_(True))
                self.biases.append(torch.stack(bs).unsqueeze(1).clone().requires_grad_(True))
            else:
                self.n_acts += 1
        self.head = not isinstance(shape[-1], nn.Linear)  # an activation after the output layer
        self.groups: list[Group] = []
        row = 0
        for fn, names, count in groups:
            group = Group(fn, row, row + count)
            acts = [[ls[i] for i in range(len(shape)) if not isinstance(shape[i], nn.Linear)]
                    for ls in per_model[row:row + count]]
            for k in range(self.n_acts):
                group.consts.append({n: torch.stack([getattr(a[k], n).detach().reshape(()) for a in acts])
                                     .clone().requires_grad_(True) for n in names})
            self.groups.append(group)
            row += count
        self.members = row

    def parameters(self) -> list[torch.Tensor]:
        """Every trainable tensor (the optimizer's list, in the order :meth:`keep` indexes)."""
        consts = [t for g in self.groups for layer in g.consts for t in layer.values()]
        return [*self.weights, *self.biases, *consts]

    def rows(self) -> list[list[int]]:
        """For each tensor of :meth:`parameters`, the member (row of the pack) of each of its rows."""
        every = list(range(self.members))
        consts = [list(range(g.start, g.stop)) for g in self.groups for layer in g.consts for _ in layer]
        return [every] * (2 * len(self.weights)) + consts

    def activate(self, k: int, h: torch.Tensor) -> torch.Tensor:
        """Activation layer ``k`` on h (members on dim 0): each candidate on its own rows."""
        if len(self.groups) == 1:
            g = self.groups[0]
            return g.fn(h, g.consts[k])
        return torch.cat([g.fn(h[g.start:g.stop], g.consts[k]) for g in self.groups])

    def forward(self, x: torch.Tensor, inputs: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Logits (M, N, classes) for x of shape (M, N, features) (or (N, features), shared).

        ``inputs``, when given, collects each hidden activation's input (for the dead-neuron rate).
        """
        h = x if x.dim() == 3 else x.unsqueeze(0).expand(self.members, *x.shape)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = torch.baddbmm(b, h, w)
            if i < last or self.head:
                if inputs is not None and i < last:
                    inputs.append(h)
                h = self.activate(i, h)
        return h

    __call__ = forward

    @torch.no_grad()
    def weights_ok(self, limit: float) -> torch.Tensor:
        """Per member: every parameter finite and no larger than ``limit`` in absolute value."""
        ok = torch.ones(self.members, dtype=torch.bool)
        for t, rows in zip(self.parameters(), self.rows(), strict=True):
            flat = t.detach().reshape(len(rows), -1)
            good = flat.isfinite().all(1) & (flat.abs().amax(1) <= limit)
            ok[rows] &= good.cpu()
        return ok

    def keep(self, alive: Sequence[bool]) -> list[torch.Tensor | None]:
        """Keep only the members where ``alive`` is true; for each old tensor, the rows kept (None
        for a tensor dropped with its whole group). The kept tensors are new leaves."""
        old_rows = self.rows()
        index: list[torch.Tensor | None] = []
        for rows in old_rows:
            kept = [i for i, m in enumerate(rows) if alive[m]]
            index.append(torch.tensor(kept, dtype=torch.long) if kept else None)

        def take(t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
            return t.detach()[idx.to(t.device)].clone().requires_grad_(True)

        n_w = len(self.weights)
        self.weights = [take(t, index[i]) for i, t in enumerate(self.weights)]
        self.biases = [take(t, index[n_w + i]) for i, t in enumerate(self.biases)]
        groups, row, j = [], 0, 2 * n_w
        for g in self.groups:
            count = sum(bool(alive[m]) for m in range(g.start, g.stop))
            consts = []
            for layer in g.consts:
                consts.append({n: take(t, index[j + q]) for q, (n, t) in enumerate(layer.items()) if count})
                j += len(layer)
            if count:
                groups.append(Group(g.fn, row, row + count, consts))
                row += count
        self.groups, self.members = groups, row
        return index
