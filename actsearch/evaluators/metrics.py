"""Metrics from the activation literature, computed on trained child networks.

- :func:`evaluate_split`: loss and accuracy (and predictions) in batches, without gradients;
  :func:`evaluate_members` the same for each member of a stacked network (:class:`MemberScores`);
- :func:`dead_neuron_rate`: the "dynamic dead neuron rate" (AP: Selective Activation for
  De-sparsifying Pruned Neural Networks, 2022) — the fraction of hidden units whose activation
  derivative is zero for every validation sample, with f′ taken by autograd at the unit's actual
  pre-activations;
- :func:`prediction_difference`: reproducibility (Shamir et al. 2020, the SmeLU paper) — the
  fraction of test examples whose predicted class differs between models trained with
  different seeds, averaged over pairs of seeds.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (outputs, targets) -> mean loss
MetricFn = Callable[[torch.Tensor, torch.Tensor], float]  # (outputs, targets) -> score, higher is better


class MemberScores(NamedTuple):
    """Per member of a trained engine: mean loss, score (accuracy unless the task says otherwise) and
    predicted classes (row k is member k's; an (M, N) tensor for a stack, a list for one network
    with None where its outputs are not class scores)."""

    losses: list[float]
    scores: list[float]
    preds: torch.Tensor | list[torch.Tensor | None]


@torch.no_grad()
def evaluate_split(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 1000, *,
                   loss: LossFn | None = None, metric: MetricFn | None = None,
                   ) -> tuple[float, float, torch.Tensor | None]:
    """Mean loss, score and predicted classes of ``model`` on (x, y), without gradients.

    By default the loss is cross-entropy and the score accuracy. A custom ``loss(out, y)`` (mean
    over the batch) and ``metric(out, y) -> float`` (higher is better) are computed on the whole
    split's outputs; predictions are then the argmax of 2-D outputs, else None."""
    if loss is None and metric is None:
        return _classification_split(model, x, y, batch)
    model.eval()
    outs = [model(x[i:i + batch]).float() for i in range(0, len(y), batch)]
    model.train()
    out = torch.cat(outs) if outs else torch.empty(0)
    value = float((loss or F.cross_entropy)(out, y)) if len(y) else 0.0
    score = float(metric(out, y)) if metric is not None else float((out.argmax(1) == y).float().mean())
    pred = out.argmax(1).cpu() if out.dim() == 2 else None
    return value, score, pred


def _classification_split(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int,
                          ) -> tuple[float, float, torch.Tensor]:
    model.eval()
    loss, preds = 0.0, []
    for i in range(0, len(y), batch):
        out = model(x[i:i + batch]).float()
        loss += F.cross_entropy(out, y[i:i + batch], reduction="sum").item()
        preds.append(out.argmax(1))
    model.train()
    pred = torch.cat(preds) if preds else torch.empty(0, dtype=torch.long)
    n = max(len(y), 1)
    return loss / n, (pred == y).float().sum().item() / n, pred.cpu()


@torch.no_grad()
def evaluate_members(forward: Callable[[torch.Tensor], torch.Tensor], members: int, x: torch.Tensor,
                     y: torch.Tensor, batch: int = 1000) -> MemberScores:
    """Per member of a stacked network (``forward``: (N, …) -> (M, N, classes)): mean cross-entropy,
    accuracy, and predicted classes (an (M, N) tensor) on the shared (x, y)."""
    n = max(len(y), 1)
    loss = [0.0] * members
    preds = []
    for i in range(0, len(y), batch):
        out = forward(x[i:i + batch]).float()
        yb = y[i:i + batch]
        chunk = F.cross_entropy(out.reshape(-1, out.shape[-1]), yb.repeat(members), reduction="none")
        for k, v in enumerate(chunk.view(members, -1).sum(1).tolist()):
            loss[k] += v
        preds.append(out.argmax(-1))
    pred = torch.cat(preds, 1) if preds else torch.empty(members, 0, dtype=torch.long)
    acc = [v / n for v in (pred == y).sum(1).tolist()]
    return MemberScores([v / n for v in loss], acc, pred.cpu())


def dead_neuron_rate(model: nn.Module, acts: Sequence[nn.Module], x: torch.Tensor) -> float:
    """Fraction of hidden units (features, or channels of a conv layer) with f′ = 0 on all of ``x``."""
    inputs: dict[int, list[torch.Tensor]] = {}
    hooks = [a.register_forward_hook(lambda m, i, o, k=k: inputs.setdefault(k, []).append(i[0].detach()))
             for k, a in enumerate(acts)]
    try:
        with torch.no_grad():
            model.eval()
            model(x)
            model.train()
    finally:
        for h in hooks:
            h.remove()
    dead = total = 0
    for k, act in enumerate(acts):
        for z in inputs.get(k, []):
            z = z.clone().requires_grad_(True)
            with torch.enable_grad():
                out = act(z)
                grad = torch.autograd.grad(out.sum(), z, allow_unused=True)[0] if out.requires_grad else None
            if grad is None:  # the activation ignores its input: every unit is dead
                grad = torch.zeros_like(z)
            alive = grad.ne(0) & grad.isfinite()
            dims = [d for d in range(alive.dim()) if d != 1] if alive.dim() > 1 else [0]
            per_unit = alive.any(dim=dims[0]) if len(dims) == 1 else alive.permute(1, *dims).flatten(1).any(1)
            dead += int((~per_unit).sum())
            total += per_unit.numel()
    return dead / total if total else 0.0


def prediction_difference(preds: Sequence[torch.Tensor]) -> float | None:
    """Mean over seed pairs of the fraction of examples predicted differently; None for < 2 models."""
    if len(preds) < 2:
        return None
    diffs = [(a != b).float().mean().item() for a, b in itertools.combinations(preds, 2)]
    return sum(diffs) / len(diffs)
