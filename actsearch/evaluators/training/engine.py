"""What the training loop trains, and the one place that chooses which engine trains a pack.

An :class:`Engine` holds M member networks (one seed each) that
:func:`~actsearch.evaluators.training.loop.train` trains as one: per step it gives each member's loss on
that member's own batch and leaves the gradients of their sum on :meth:`Engine.parameters` (one
Adam updates them; Adam is elementwise, so each member's update is its own); it checks each
member's weights, scores each member, and drops members that failed. Three engines implement it:

- :class:`~actsearch.evaluators.training.single.SingleNetwork`: one network (M = 1), autograd;
- :class:`~actsearch.evaluators.training.stacked_mlp.StackedMLP`: MLP members stacked into batched matmuls
  and differentiated by hand (the fastest on a CPU);
- :class:`~actsearch.evaluators.training.stacked.StackedNet`: members of any network without batch norm,
  one ``torch.func.vmap`` per candidate, autograd.

:func:`choose_engine` decides, from the members' networks and the pack's shape (candidates ×
seeds), which of them trains it; :func:`member_form` says whether a candidate can be a stacked
member at all.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import torch
from torch import nn

from actsearch.evaluators.candidate import Candidate
from actsearch.evaluators.metrics import MemberScores
from actsearch.evaluators.training.stacked import is_vmappable
from actsearch.evaluators.training.stacked_mlp import MemberForm, is_stackable, member_function

MIN_MEMBERS = 2  # fewer members train seed by seed: one alone gains little (1.03-1.31x, bench_batched)


class EngineKind(enum.Enum):
    """Which engine trains a pack."""

    SINGLE = "single"  # seed by seed, one network at a time (SingleNetwork)
    STACKED_MLP = "stacked-mlp"  # every member of the pack in one hand-differentiated stack (StackedMLP)
    STACKED_NET = "stacked-net"  # one vmapped stack per candidate (StackedNet)


@runtime_checkable
class Engine(Protocol):
    """M member networks trained as one (see the module's docstring)."""

    stacked: bool  # members share a stack: their results carry ``pack``, the time limit is per member
    members: int  # members still training (rows of every per-member tensor, in order)

    def parameters(self) -> list[torch.Tensor]:
        """The tensors the optimizer updates (the order :meth:`keep` indexes)."""
        ...

    def loss_backward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Each member's mean loss on its batch (x: (M, B, …), y: (M, B)), shape (M,), detached;
        the gradient of their sum is left in :meth:`parameters`' ``grad``."""
        ...

    def weights_ok(self, limit: float) -> torch.Tensor:
        """Per member (bool, shape (M,)): every parameter finite and no larger than ``limit``."""
        ...

    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> MemberScores:
        """Per member: loss, score and predictions on the shared (x, y), without gradients."""
        ...

    def dead_neuron_rates(self, x: torch.Tensor) -> list[float]:
        """Per member: the fraction of hidden units whose f′ is zero on all of ``x``."""
        ...

    def learned(self) -> list[dict[str, float]]:
        """Per member: the values its learnable constants reached (:mod:`~actsearch.evaluators.learned`)."""
        ...

    def keep(self, alive: Sequence[bool]) -> list[torch.Tensor | None]:
        """Keep only the members where ``alive`` is true; for each old tensor of :meth:`parameters`,
        the indices (along its first dimension) that carry its optimizer state over, or None where
        the tensor went."""
        ...


def choose_engine(networks: nn.Module | Sequence[nn.Module], *, candidates: int, seeds: int) -> EngineKind:
    """The engine that trains ``candidates`` × ``seeds`` members of ``networks`` (each member's
    network, or one standing for all of them).

    Fewer than :data:`MIN_MEMBERS` members train seed by seed. MLPs (:func:`is_stackable`) stack
    every member, whatever its candidate; another network without batch norm (:func:`is_vmappable`)
    stacks the seeds of each candidate, so it needs :data:`MIN_MEMBERS` seeds; anything else
    (batch norm) trains seed by seed."""
    nets = [networks] if isinstance(networks, nn.Module) else list(networks)
    if candidates * seeds < MIN_MEMBERS or not nets:
        return EngineKind.SINGLE
    if all(is_stackable(n) for n in nets):
        return EngineKind.STACKED_MLP
    if seeds >= MIN_MEMBERS and all(is_vmappable(n) for n in nets):
        return EngineKind.STACKED_NET
    return EngineKind.SINGLE


def member_form(cand: Candidate) -> MemberForm | None:
    """The candidate's function for stacked members and its constants' names; None for a user's
    module (only compiled candidates and the library's own modules are known to be elementwise):
    such a candidate trains seed by seed."""
    from actsearch.grammar import library

    module = cand.factory()
    elementwise = cand.activation is not None or (
        library.module_only(cand.label) and type(module).__module__ == library.__name__)
    return member_function(module, elementwise)
