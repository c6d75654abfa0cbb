"""M child MLPs as one network with a leading member dimension, differentiated by hand: the
:class:`~actsearch.evaluators.training.engine.Engine` that trains packs of MLP members.

The members are built one by one by the task's own builder (so each has exactly the
initialisation a separate run of its seed has) and their parameters are stacked into one flat
buffer: a linear layer's ``W`` is a view of shape (M, in, out) (the transpose of ``nn.Linear``'s,
measured ~1.05× faster than a transposed view) and ``b`` one of shape (M, 1, out), applied with one
``baddbmm``; an activation layer applies each candidate's function to its own contiguous slice of
members, with that candidate's learnable constants held as (S,)-shaped views (one value per
member, broadcast over the member's hidden tensor).

Training does not go through autograd's graph. :meth:`StackedMLP.loss_backward` runs the forward
pass, keeping each layer's input and the activation's derivative f′(h) — computed alongside f(h)
by the forward-mode closures of :mod:`actsearch.grammar.dual` (autograd's own derivative rules;
autograd on that one activation for a module without an expression) — and then the backward pass by hand: two ``bmm`` and a sum per layer, one
multiply by f′ per activation, and one weighted sum per learnable constant. The gradients are
written into one flat buffer beside the parameters, so one fused Adam kernel updates every member
(Adam is elementwise, so each member's update is its own). Every operation is per member, so a
member's values and gradients are those of its separate network up to the reassociation of sums.
Per training step of 5 swish members of the deep MLP: 8.1 ms, against 8.6 ms for the same stack
differentiated by autograd and 11.1 ms for five separate networks (``benchmarks/bench_batched.py``,
``engines``, idle machine); about 60 % of it is the matmuls themselves.

:meth:`StackedMLP.keep` drops members (a diverged one is frozen by removing it) and returns the
flat indices that carry the optimizer's state over.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from actsearch.evaluators import learned
from actsearch.evaluators.metrics import MemberScores, evaluate_members
from actsearch.grammar.compile import ActivationModule
from actsearch.grammar.dual import X, with_derivatives

MemberFn = Callable[[torch.Tensor, dict[str, torch.Tensor]], torch.Tensor]
Derivatives = Callable[[torch.Tensor, dict[str, torch.Tensor]],
                       tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]]


@dataclass(frozen=True)
class MemberForm:
    """A candidate's function for stacked members: ``fn(x, constants)`` for x with a leading
    member dimension and (S,)-shaped constants, the constants' names, and ``derivatives(x,
    constants)`` = (f, f′, {name: ∂f/∂c}) elementwise, or None where only autograd knows them."""

    fn: MemberFn
    names: list[str]
    derivatives: Derivatives | None = None


def member_function(module: nn.Module, elementwise: bool) -> MemberForm | None:
    """The stacked form of an activation module.

    A compiled candidate applies its closure with (S, 1, …)-shaped constants and has its
    derivatives from :mod:`actsearch.grammar.dual`; a module without parameters known to be
    elementwise (a library module) is applied as it is. Anything else (a user's module) has no
    batched form: None.
    """
    if isinstance(module, ActivationModule) and not module.per_channel:
        def shaped(x: torch.Tensor, consts: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
            shape = (-1,) + (1,) * (x.dim() - 1)
            return {n: v.view(shape) for n, v in consts.items()}

        def apply(x: torch.Tensor, consts: dict[str, torch.Tensor]) -> torch.Tensor:
            return module.apply(x, shaped(x, consts))

        dual = with_derivatives(module)

        def derivatives(x: torch.Tensor, consts: dict[str, torch.Tensor]):  # noqa: ANN202
            y, tangents = dual(x, shaped(x, consts))
            return y, _full(tangents.get(X), x), {n: _full(tangents.get(n), x) for n in consts}

        return MemberForm(apply, list(module.names), derivatives)
    if elementwise and not any(True for _ in module.parameters()):
        return MemberForm(lambda x, consts: module(x), [])
    return None


def _full(tangent: torch.Tensor | float | None, x: torch.Tensor) -> torch.Tensor:
    """A tangent as a tensor of x's shape (None is 0)."""
    if tangent is None:
        return torch.zeros_like(x)
    if isinstance(tangent, torch.Tensor):
        return tangent.expand(x.shape)
    return torch.full_like(x, tangent)


def activation_with_graph(fn: MemberFn, h: torch.Tensor, consts: dict[str, torch.Tensor],
                          ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """f(h) recorded by autograd for this one activation (a function with no derivative rules):
    the output and the leaves it is differentiated by (h, then each constant)."""
    leaves = [h.detach().requires_grad_(True), *(c.detach().requires_grad_(True) for c in consts.values())]
    with torch.enable_grad():
        y = fn(leaves[0], dict(zip(consts, leaves[1:], strict=True)))
    return y, leaves


def through(y: torch.Tensor, leaves: list[torch.Tensor], grad: torch.Tensor) -> list[torch.Tensor]:
    """The gradients of ``leaves`` given ``grad`` at ``y`` (zeros where y does not depend on one)."""
    if not y.requires_grad:
        return [torch.zeros_like(t) for t in leaves]
    got = torch.autograd.grad(y, leaves, grad, allow_unused=True)
    return [torch.zeros_like(t) if g is None else g for g, t in zip(got, leaves, strict=True)]


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
    """One candidate's members: rows ``start:stop`` of the pack, its function, and its constants
    per activation layer (views of the flat buffer) with their gradients (views of the flat
    gradient)."""

    form: MemberForm
    start: int
    stop: int
    consts: list[dict[str, torch.Tensor]] = field(default_factory=list)
    grads: list[dict[str, torch.Tensor]] = field(default_factory=list)

    def fn(self, x: torch.Tensor, consts: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.form.fn(x, consts)

    def forward(self, k: int, h: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """Activation layer ``k`` on this group's rows ``h``: the output, and what
        :meth:`backward` needs (the derivatives, or autograd's graph of this one activation)."""
        if self.form.derivatives is not None:
            y, slope, by_const = self.form.derivatives(h, self.consts[k])
            return y, (slope, by_const)
        y, leaves = activation_with_graph(self.form.fn, h, self.consts[k])
        return y.detach(), (y, leaves)

    def backward(self, k: int, grad: torch.Tensor, saved: Any) -> torch.Tensor:
        """The gradient at the activation's input from ``grad`` at its output; the constants'
        gradients go into the flat gradient."""
        if self.form.derivatives is not None:
            slope, by_const = saved
            for name, d in by_const.items():
                torch.sum(grad * d, tuple(range(1, grad.dim())), out=self.grads[k][name])
            return grad * slope
        y, leaves = saved
        got = through(y, leaves, grad)
        for dst, value in zip(self.grads[k].values(), got[1:], strict=True):
            dst.copy_(value)
        return got[0]


PAD = 64  # the flat buffer's length is a multiple of this (and at least one element of padding)


def _padding(n: int) -> int:
    """Zeros after n values: the fused Adam kernel vectorises a tensor's body and finishes its last
    ``n % width`` elements with scalar code that rounds differently, so without padding the last
    member's last bias would train differently depending on how many members share the pack."""
    return PAD - n % PAD


@dataclass
class Segment:
    """One stacked tensor in the flat buffer: its shape (rows first) and the member of each row."""

    shape: tuple[int, ...]
    members: list[int]

    @property
    def size(self) -> int:
        return int(torch.Size(self.shape).numel())


class StackedMLP:
    """M MLPs of one shape (one group of members per candidate) trained as one network."""

    stacked = True

    def __init__(self, models: Sequence[nn.Module], groups: Sequence[tuple[MemberForm, int]]) -> None:
        """``models``: one per member, grouped as ``groups`` = (the candidate's form, member count)."""
        per_model = [layers_of(m) for m in models]
        shape = per_model[0]
        tensors: list[torch.Tensor] = []
        for i, layer in enumerate(shape):
            if isinstance(layer, nn.Linear):
                tensors.append(torch.stack([ls[i].weight.detach().t() for ls in per_model]))
                tensors.append(torch.stack([ls[i].bias.detach() for ls in per_model]).unsqueeze(1))
        self.n_linear = len(tensors) // 2
        self.n_acts = len(shape) - self.n_linear
        self.head = not isinstance(shape[-1], nn.Linear)  # an activation after the output layer
        self.segments = [Segment(tuple(t.shape), list(range(len(models)))) for t in tensors]
        self.plan: list[tuple[MemberForm, int, int]] = []  # per group: form, first row, end row
        row = 0
        for form, count in groups:
            acts = [[ls[i] for i in range(len(shape)) if not isinstance(shape[i], nn.Linear)]
                    for ls in per_model[row:row + count]]
            for k in range(self.n_acts):
                for n in form.names:
                    tensors.append(torch.stack([getattr(a[k], n).detach().reshape(()) for a in acts]))
                    self.segments.append(Segment((count,), list(range(row, row + count))))
            self.plan.append((form, row, row + count))
            row += count
        self.members = row
        flat = torch.cat([t.reshape(-1) for t in tensors])
        self.flat = torch.cat([flat, flat.new_zeros(_padding(len(flat)))])
        self.grad = torch.zeros_like(self.flat)
        self._bind()

    def _bind(self) -> None:
        """(Re)make the views of the flat buffers: weights, biases, each group's constants."""
        views, grads, offset = [], [], 0
        for seg in self.segments:
            views.append(self.flat[offset:offset + seg.size].view(seg.shape))
            grads.append(self.grad[offset:offset + seg.size].view(seg.shape))
            offset += seg.size
        n = self.n_linear
        self.weights, self.biases = views[0:2 * n:2], views[1:2 * n:2]
        self.weight_grads, self.bias_grads = grads[0:2 * n:2], grads[1:2 * n:2]
        self.groups: list[Group] = []
        j = 2 * n
        for form, start, stop in self.plan:
            group = Group(form, start, stop)
            for _ in range(self.n_acts):
                group.consts.append({name: views[j + q] for q, name in enumerate(form.names)})
                group.grads.append({name: grads[j + q] for q, name in enumerate(form.names)})
                j += len(form.names)
            self.groups.append(group)

    def parameters(self) -> list[torch.Tensor]:
        """The one flat tensor the optimizer updates (its ``grad`` is set by :meth:`loss_backward`)."""
        return [self.flat]

    def activate(self, k: int, h: torch.Tensor) -> torch.Tensor:
        """Activation layer ``k`` on h (members on dim 0): each candidate on its own rows."""
        if len(self.groups) == 1:
            g = self.groups[0]
            return g.fn(h, g.consts[k])
        return torch.cat([g.fn(h[g.start:g.stop], g.consts[k]) for g in self.groups])

    @torch.no_grad()
    def forward(self, x: torch.Tensor, inputs: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Logits (M, N, classes) for x of shape (M, N, features) (or (N, features), shared).

        ``inputs``, when given, collects each hidden activation's input (for the dead-neuron rate).
        """
        h = x if x.dim() == 3 else x.unsqueeze(0).expand(self.members, *x.shape)
        last = self.n_linear - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = torch.baddbmm(b, h, w)
            if i < last or self.head:
                if inputs is not None and i < last:
                    inputs.append(h)
                h = self.activate(i, h)
        return h

    __call__ = forward

    @torch.no_grad()
    def loss_backward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Each member's mean cross-entropy on its batch (x: (M, B, features), y: (M, B)); the
        gradient of their sum is written into ``self.flat.grad``."""
        last = self.n_linear - 1
        saved: list[tuple[torch.Tensor, list | None]] = []  # per layer: its input, per group what backward needs
        h = x
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            a = h
            h = torch.baddbmm(b, a, w)
            kept = None
            if i < last or self.head:
                if len(self.groups) == 1:
                    h, one = self.groups[0].forward(i, h)
                    kept = [one]
                else:
                    parts = [g.forward(i, h[g.start:g.stop]) for g in self.groups]
                    h, kept = torch.cat([p[0] for p in parts]), [p[1] for p in parts]
            saved.append((a, kept))
        logp = torch.log_softmax(h.float(), -1)
        target = y.unsqueeze(-1)
        losses = -logp.gather(-1, target).squeeze(-1).mean(1)
        grad = logp.exp_()  # d(mean cross-entropy)/d(logits) = (softmax - one-hot) / batch
        grad.scatter_add_(-1, target, torch.full_like(target, -1, dtype=grad.dtype)).div_(y.shape[1])
        for i in range(last, -1, -1):
            a, kept = saved[i]
            if kept is not None:
                if len(self.groups) == 1:
                    grad = self.groups[0].backward(i, grad, kept[0])
                else:
                    grad = torch.cat([g.backward(i, grad[g.start:g.stop], k)
                                      for g, k in zip(self.groups, kept, strict=True)])
            torch.bmm(a.transpose(1, 2), grad, out=self.weight_grads[i])
            torch.sum(grad, 1, keepdim=True, out=self.bias_grads[i])
            if i:
                grad = torch.bmm(grad, self.weights[i].transpose(1, 2))
        self.flat.grad = self.grad
        return losses

    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> MemberScores:
        """Per member: mean cross-entropy, accuracy and predicted classes on the shared (x, y)."""
        return evaluate_members(self.forward, self.members, x, y)

    def learned(self) -> list[dict[str, float]]:
        """Per member: the learned-constant metrics of its own slice of each group's constants."""
        return [learned.metrics({name: [layer[name][row] for layer in group.consts] for name in group.form.names})
                for group in self.groups for row in range(group.stop - group.start)]

    @torch.no_grad()
    def dead_neuron_rates(self, x: torch.Tensor) -> list[float]:
        """Per member: the fraction of hidden units whose f′ is zero (or not finite) on all of ``x``."""
        inputs: list[torch.Tensor] = []
        self.forward(x, inputs)
        dead = [0] * self.members
        total = 0
        for k, z_all in enumerate(inputs):
            total += z_all.shape[-1]
            for g in self.groups:
                z = z_all[g.start:g.stop]
                _, kept = g.forward(k, z)
                ones = torch.ones_like(z)
                slope = ones * kept[0] if g.form.derivatives is not None else through(kept[0], kept[1][:1], ones)[0]
                alive = (slope.ne(0) & slope.isfinite()).any(1)  # (members, units)
                for row, count in enumerate((~alive).sum(1).tolist()):
                    dead[g.start + row] += count
        return [d / total for d in dead] if total else [0.0] * self.members

    @torch.no_grad()
    def weights_ok(self, limit: float) -> torch.Tensor:
        """Per member: every parameter finite and no larger than ``limit`` in absolute value."""
        ok = torch.ones(self.members, dtype=torch.bool)
        offset = 0
        for seg in self.segments:
            flat = self.flat[offset:offset + seg.size].view(len(seg.members), -1)
            offset += seg.size
            good = flat.isfinite().all(1) & (flat.abs().amax(1) <= limit)
            ok[seg.members] &= good.cpu()
        return ok

    def keep(self, alive: Sequence[bool]) -> list[torch.Tensor | None]:
        """Keep only the members where ``alive`` is true; return the flat indices kept (for the
        optimizer's state, which has the flat buffer's layout)."""
        renumber = {m: r for r, m in enumerate(m for m in range(self.members) if alive[m])}
        pieces, segments, offset = [], [], 0
        for seg in self.segments:
            width = seg.size // len(seg.members)
            kept = [r for r, m in enumerate(seg.members) if alive[m]]
            if kept:
                rows = torch.tensor(kept, dtype=torch.long)
                pieces.append((offset + rows[:, None] * width + torch.arange(width)).reshape(-1))
                segments.append(Segment((len(kept), *seg.shape[1:]), [renumber[seg.members[r]] for r in kept]))
            offset += seg.size
        index = torch.cat(pieces)
        # the new padding holds the old padding's values (zeros, with zero optimizer state)
        index = torch.cat([index, torch.full((_padding(len(index)),), len(self.flat) - 1)]).to(self.flat.device)
        plan = []
        for form, start, stop in self.plan:
            rows = [renumber[m] for m in range(start, stop) if alive[m]]
            if rows:
                plan.append((form, rows[0], rows[0] + len(rows)))
        self.flat = self.flat[index].contiguous()
        self.grad = torch.zeros_like(self.flat)
        self.segments, self.plan, self.members = segments, plan, len(renumber)
        self._bind()
        return [index]
