"""The budgeted training loop for classification tasks, with failures recorded as results.

One call trains one child network with one seed: Adam, cosine learning-rate decay to 0 over
``cfg.steps``, batches drawn with a generator seeded by the run seed (so a seed fixes the run on
the CPU). It stops early, with a status instead of an exception, when the loss is NaN/inf or a
weight is non-finite or larger than ``cfg.max_weight`` (``diverged``, with the step), or when the
time limit passes (``timeout``). A few times per run it scores a validation subset and calls
``report(checkpoint, accuracy)``. On a GPU it trains in bfloat16 autocast. A finished run's metrics
hold the values its learnable constants reached (:mod:`actsearch.evaluators.learned`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from actsearch.evaluators import learned
from actsearch.evaluators.allocator import keep_freed_memory
from actsearch.evaluators.data import Split
from actsearch.evaluators.metrics import LossFn, MetricFn, dead_neuron_rate, evaluate_split
from actsearch.evaluators.result import DIVERGED, OK, TIMEOUT, EvalResult

Report = Callable[[int, float], None]
# The training code's numerics: bumped when the same settings and seed give other numbers (cached
# ReLU references of panels are keyed by it). 3: the stacked MLP differentiated by hand, panel
# references trained as the candidates are (stacked where the member batches).
NUMERICS = 3


def cosine_lr(base: float, step: int, total: int) -> float:
    """Cosine decay from ``base`` at step 0 to 0 at step ``total``."""
    return base * 0.5 * (1.0 + math.cos(math.pi * min(step, total) / max(total, 1)))


def weights_ok(model: nn.Module, limit: float) -> bool:
    """True when every parameter is finite and no larger than ``limit`` in absolute value."""
    with torch.no_grad():
        return all(bool(p.isfinite().all()) and float(p.abs().max()) <= limit
                   for p in model.parameters() if p.numel())


def adam(model: nn.Module | Sequence[torch.Tensor], lr: float, weight_decay: float) -> torch.optim.Adam:
    """Adam over a model's parameters (or a list of tensors) with the fused kernel where torch has
    one for the device (CPU since torch 2.4: one kernel per parameter instead of ~10; 1.2–1.3× the
    steps/s of the mnist1d MLP, same values up to rounding), else the default implementation."""
    params = list(model.parameters() if isinstance(model, nn.Module) else model)
    try:
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


def checkpoint_steps(steps: int, checkpoints: int) -> dict[int, int]:
    """Map a (1-based) step number to its checkpoint index 1..checkpoints."""
    n = max(1, min(checkpoints, steps))
    return {max(1, round(steps * k / n)): k for k in range(1, n + 1)}


def train_classifier(model: nn.Module, acts: Sequence[nn.Module], split: Split, cfg: Any, seed: int, *,
                     report: Report | None = None, time_limit_s: float | None = None,
                     augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
                     loss: LossFn | None = None, metric: MetricFn | None = None,
                     ) -> tuple[EvalResult, torch.Tensor | None]:
    """Train ``model`` on ``split`` for ``cfg.steps``; return the result and test predictions.

    ``cfg`` provides steps, batch_size, lr, weight_decay, checkpoints, report_subset, max_weight
    and dnr_samples. ``acts`` are the hidden activation instances (for the dead-neuron rate).
    ``loss`` / ``metric`` replace cross-entropy / accuracy (a user's ``ModelTask``); the score is
    then the metric on the validation split (``val_acc`` holds it).
    """
    keep_freed_memory()
    start = time.perf_counter()
    device = split.x_train.device
    cuda = device.type == "cuda"
    gen = torch.Generator().manual_seed(seed)
    opt = adam(model, cfg.lr, cfg.weight_decay)
    marks = checkpoint_steps(cfg.steps, cfg.checkpoints)
    n_train, sub = len(split.y_train), min(cfg.report_subset, len(split.y_val))
    recent: list[torch.Tensor] = []
    checkpoints: list[float] = []
    train_start = time.perf_counter()
    deadline = None if time_limit_s is None else start + time_limit_s
    loss_fn = loss or F.cross_entropy
    scored = {"loss": loss, "metric": metric}

    def stopped(status: str, step: int, why: str) -> tuple[EvalResult, None]:
        metrics = {"steps": step, "checkpoints": checkpoints}
        return EvalResult(status, 0.0, seed, time.perf_counter() - start, metrics, why, step), None

    model.train()
    for step in range(1, cfg.steps + 1):
        if deadline is not None and time.perf_counter() > deadline:
            return stopped(TIMEOUT, step - 1, f"time limit {time_limit_s:g} s reached at step {step - 1}")
        for group in opt.param_groups:
            group["lr"] = cosine_lr(cfg.lr, step - 1, cfg.steps)
        idx = torch.randint(n_train, (cfg.batch_size,), generator=gen).to(device)
        xb, yb = split.x_train[idx], split.y_train[idx]
        if augment is not None:
            xb = augment(xb, gen)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
            out = model(xb)
        value = loss_fn(out.float(), yb)
        opt.zero_grad(set_to_none=True)
        value.backward()
        opt.step()
        recent.append(value.detach())
        if not cuda or len(recent) >= 50 or step in marks or step == cfg.steps:
            if not bool(torch.stack(recent).isfinite().all()):
                return stopped(DIVERGED, step, f"loss is not finite at step {step}")
            recent.clear()
        if step % 100 == 0 or step in marks or step == cfg.steps:
            if not weights_ok(model, cfg.max_weight):
                return stopped(DIVERGED, step, f"weights exploded (> {cfg.max_weight:g}) at step {step}")
        if step in marks:
            _, acc, _ = evaluate_split(model, split.x_val[:sub], split.y_val[:sub], **scored)
            checkpoints.append(acc)
            if report is not None:
                report(marks[step], acc)
    train_s = time.perf_counter() - train_start

    val_loss, val_acc, _ = evaluate_split(model, split.x_val, split.y_val, **scored)
    test_loss, test_acc, test_pred = evaluate_split(model, split.x_test, split.y_test, **scored)
    train_loss, train_acc, _ = evaluate_split(model, split.x_train[:len(split.y_val)],
                                              split.y_train[:len(split.y_val)], **scored)
    if not all(math.isfinite(v) for v in (val_loss, test_loss, train_loss, val_acc)):
        return stopped(DIVERGED, cfg.steps, "evaluation loss is not finite after training")
    dnr = dead_neuron_rate(model, acts, split.x_val[:cfg.dnr_samples]) if acts else 0.0
    metrics = {
        "val_acc": val_acc, "val_loss": val_loss, "test_acc": test_acc, "test_loss": test_loss,
        "train_acc": train_acc, "train_loss": train_loss, "dnr": dnr,
        "steps": cfg.steps, "steps_per_s": cfg.steps / max(train_s, 1e-9), "checkpoints": checkpoints,
        **learned.of_network(model, acts),
    }
    return EvalResult(OK, val_acc, seed, time.perf_counter() - start, metrics), test_pred
