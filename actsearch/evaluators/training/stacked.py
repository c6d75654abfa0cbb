"""M child networks of any shape without batch norm trained as one, by ``torch.func``.

:class:`StackedNet` is the :class:`~actsearch.evaluators.training.engine.Engine` for the networks that
:class:`~actsearch.evaluators.training.stacked_mlp.StackedMLP` cannot run (convolutions, normalised
residual blocks, attention): each candidate's members — built one by one by the task's own
builder, so each has the initialisation of its separate run — have their parameters and buffers stacked (``stack_module_state``: a leading
member dimension), and one ``vmap`` of ``functional_call`` over that candidate's network applies
every member to its own rows. A candidate's learnable constants live inside its activation
modules, so they are stacked parameters like the weights. Different candidates are different
code, so a pack of G candidates is G such stacks, applied one after another in one forward (one
loss, one Adam, one step loop).

Batch norm is not stacked (its running statistics are updated in place during the forward):
:func:`is_vmappable` refuses a network with one, and such a network trains seed by seed.
:meth:`StackedNet.keep` drops members (a diverged one is frozen by removing it) and returns the
rows that carry each surviving tensor's optimizer state over, as ``StackedMLP.keep`` does.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from torch.nn import functional as F

from actsearch.evaluators import learned
from actsearch.evaluators.metrics import MemberScores, dead_neuron_rate, evaluate_members


def is_vmappable(model: nn.Module) -> bool:
    """True for a network :class:`StackedNet` runs: no batch norm (nor another module that keeps
    running statistics)."""
    return not any(isinstance(m, nn.modules.batchnorm._NormBase) for m in model.modules())


@dataclass
class Stack:
    """One candidate's members: rows ``start:stop`` of the pack, their networks (for the
    dead-neuron rate), the network's code on the meta device, its stacked parameters and buffers."""

    start: int
    stop: int
    models: list[nn.Module]
    acts: list[list[nn.Module]]
    base: nn.Module
    params: dict[str, torch.Tensor]
    buffers: dict[str, torch.Tensor]

    @classmethod
    def of(cls, start: int, models: Sequence[nn.Module], acts: Sequence[Sequence[nn.Module]]) -> Stack:
        params, buffers = stack_module_state(list(models))
        params = {n: p.detach().clone().requires_grad_(True) for n, p in params.items()}
        base = copy.deepcopy(models[0]).to("meta")
        return cls(start, start + len(models), list(models), [list(a) for a in acts], base, params, buffers)

    def forward(self, x: torch.Tensor, shared: bool) -> torch.Tensor:
        """This stack's outputs (S, N, …) for x of shape (S, N, …), or (N, …) when ``shared``."""
        def one(p: dict[str, torch.Tensor], b: dict[str, torch.Tensor], xm: torch.Tensor) -> torch.Tensor:
            return functional_call(self.base, (p, b), (xm,))

        with warnings.catch_warnings():  # attention has no batching rule on the CPU: torch warns, then loops
            warnings.filterwarnings("ignore", "There is a performance drop", UserWarning)
            return vmap(one, in_dims=(0, 0, None if shared else 0))(self.params, self.buffers, x)


class StackedNet:
    """M networks of one shape (one :class:`Stack` per candidate) trained as one network."""

    stacked = True

    def __init__(self, models: Sequence[nn.Module], acts: Sequence[Sequence[nn.Module]],
                 counts: Sequence[int], input_dims: int) -> None:
        """``models`` (with each one's hidden activations ``acts``): one per member, grouped as
        ``counts`` consecutive members per candidate; ``input_dims``: the dimensions of one
        member's input batch (2 for the MNIST-1D signals, (N, 40))."""
        self.input_dims = input_dims
        self.stacks: list[Stack] = []
        row = 0
        for count in counts:
            self.stacks.append(Stack.of(row, models[row:row + count], acts[row:row + count]))
            row += count
        self.members = row

    def parameters(self) -> list[torch.Tensor]:
        """Every trainable tensor (the optimizer's list, in the order :meth:`keep` indexes)."""
        return [p for s in self.stacks for p in s.params.values()]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (M, N, classes) for x of shape (M, N, …) (or (N, …), shared)."""
        shared = x.dim() == self.input_dims
        outs = [s.forward(x if shared else x[s.start:s.stop], shared) for s in self.stacks]
        return outs[0] if len(outs) == 1 else torch.cat(outs)

    __call__ = forward

    def loss_backward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Each member's mean cross-entropy on its batch (x: (M, B, …), y: (M, B)); autograd
        puts the gradient of their sum into the stacked parameters' ``grad``."""
        for p in self.parameters():
            p.grad = None
        out = self.forward(x).float()
        losses = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1),
                                 reduction="none").view(len(y), -1).mean(1)
        losses.sum().backward()
        return losses.detach()

    @torch.no_grad()
    def weights_ok(self, limit: float) -> torch.Tensor:
        """Per member: every parameter finite and no larger than ``limit`` in absolute value."""
        ok = torch.ones(self.members, dtype=torch.bool)
        for s in self.stacks:
            for p in s.params.values():
                flat = p.detach().reshape(s.stop - s.start, -1)
                ok[s.start:s.stop] &= (flat.isfinite().all(1) & (flat.abs().amax(1) <= limit)).cpu()
        return ok

    def keep(self, alive: Sequence[bool]) -> list[torch.Tensor | None]:
        """Keep only the members where ``alive`` is true; for each old tensor of :meth:`parameters`,
        the rows kept (None for a stack whose members all went). The kept tensors are new leaves."""
        index: list[torch.Tensor | None] = []
        stacks, row = [], 0
        for s in self.stacks:
            kept = [i for i in range(s.stop - s.start) if alive[s.start + i]]
            idx = torch.tensor(kept, dtype=torch.long) if kept else None
            index += [idx] * len(s.params)
            if idx is None:
                continue
            params = {n: p.detach()[idx.to(p.device)].clone().requires_grad_(True) for n, p in s.params.items()}
            buffers = {n: b[idx.to(b.device)].clone() for n, b in s.buffers.items()}
            stacks.append(Stack(row, row + len(kept), [s.models[i] for i in kept], [s.acts[i] for i in kept],
                                s.base, params, buffers))
            row += len(kept)
        self.stacks, self.members = stacks, row
        return index

    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> MemberScores:
        """Per member: mean cross-entropy, accuracy and predicted classes on the shared (x, y)."""
        return evaluate_members(self.forward, self.members, x, y)

    def learned(self) -> list[dict[str, float]]:
        """Per member: the learned-constant metrics of its rows of the stacked parameters held by
        the candidate's modules (found by their paths in the member's network)."""
        rows: list[dict[str, float]] = []
        for stack in self.stacks:
            found = learned.candidate_modules(stack.models[0], stack.acts[0])
            keys = [(name, f"{path}.{name}" if path else name)
                    for path, module in found for name in learned.constant_names(module)]
            for row in range(stack.stop - stack.start):
                values: dict[str, list[torch.Tensor]] = {}
                for name, key in keys:
                    if key in stack.params:
                        values.setdefault(name, []).append(stack.params[key][row])
                rows.append(learned.metrics(values))
        return rows

    def dead_neuron_rates(self, x: torch.Tensor) -> list[float]:
        """Per member: :func:`~actsearch.evaluators.metrics.dead_neuron_rate` of its own network
        holding its trained values (written back into the member's network)."""
        rates = []
        for s in self.stacks:
            for k, (model, acts) in enumerate(zip(s.models, s.acts, strict=True)):
                with torch.no_grad():
                    for name, t in (*model.named_parameters(), *model.named_buffers()):
                        t.copy_((s.params if name in s.params else s.buffers)[name][k])
                rates.append(dead_neuron_rate(model, acts, x) if acts else 0.0)
        return rates
