"""One child network as an :class:`~actsearch.evaluators.training.engine.Engine` of one member.

:class:`SingleNetwork` is how every network that is not stacked is trained: the task's own module,
differentiated by autograd, in bfloat16 autocast on a GPU. A user's ``ModelTask`` may give its own
``loss(out, y)`` and ``metric(out, y)``; the score is then that metric (cross-entropy and accuracy
otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from actsearch.evaluators import learned
from actsearch.evaluators.metrics import LossFn, MemberScores, MetricFn, dead_neuron_rate, evaluate_split


def weights_ok(model: nn.Module, limit: float) -> bool:
    """True when every parameter is finite and no larger than ``limit`` in absolute value."""
    with torch.no_grad():
        return all(bool(p.isfinite().all()) and float(p.abs().max()) <= limit
                   for p in model.parameters() if p.numel())


class SingleNetwork:
    """One network (``acts``: its hidden activation instances, for the dead-neuron rate and the
    learned constants), trained with one seed."""

    stacked = False
    members = 1

    def __init__(self, model: nn.Module, acts: Sequence[nn.Module], *, loss: LossFn | None = None,
                 metric: MetricFn | None = None) -> None:
        self.model, self.acts = model, list(acts)
        self._loss, self._metric = loss, metric
        self._loss_fn: LossFn = loss or nn.functional.cross_entropy
        model.train()

    def parameters(self) -> list[torch.Tensor]:
        return list(self.model.parameters())

    def loss_backward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The loss on the one member's batch (x: (1, B, …)), shape (1,); autograd sets the gradients."""
        cuda = x.device.type == "cuda"
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
            out = self.model(x[0])
        value = self._loss_fn(out.float(), y[0])
        for p in self.model.parameters():
            p.grad = None
        value.backward()
        return value.detach().reshape(1)

    def weights_ok(self, limit: float) -> torch.Tensor:
        return torch.tensor([weights_ok(self.model, limit)])

    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> MemberScores:
        loss, score, pred = evaluate_split(self.model, x, y, loss=self._loss, metric=self._metric)
        return MemberScores([loss], [score], [pred])

    def dead_neuron_rates(self, x: torch.Tensor) -> list[float]:
        return [dead_neuron_rate(self.model, self.acts, x) if self.acts else 0.0]

    def learned(self) -> list[dict[str, float]]:
        return [learned.of_network(self.model, self.acts)]

    def keep(self, alive: Sequence[bool]) -> list[torch.Tensor | None]:
        """Never needed: the loop stops when the only member fails."""
        raise ValueError("a single network has no other member to go on with")
