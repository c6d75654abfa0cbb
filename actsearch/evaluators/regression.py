"""Out-of-distribution regression (the kind of fitness of Vitvitskyi et al. 2026, "Mining
generalizable activation functions"): a small MLP fits synthetic 1-D functions on a training
interval and is scored on inputs *outside* it, where only the activation's own shape can carry
the pattern on.

One network with one output per target function (:data:`TARGETS`) is trained by Adam (cosine
decay) on the mean squared error over x ~ U(−train_range, train_range); it is scored on a grid
of ``test_size`` points with train_range < |x| ≤ test_range. Per target, the normalised error is
NMSE = MSE / Var(y) on that grid (1 = as bad as predicting the grid's mean) and the score is the
mean over targets of 1 / (1 + NMSE): 1 for exact extrapolation, 0.5 for a mean-level guess, → 0
for a wild one. The data are fixed (generator seed 0); the seed sets the initial weights and the
batches.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from actsearch.evaluators.learned import of_network
from actsearch.evaluators.metrics import dead_neuron_rate
from actsearch.evaluators.networks import MLP
from actsearch.evaluators.result import DIVERGED, OK, TIMEOUT, EvalResult
from actsearch.evaluators.training.loop import adam, checkpoint_steps, cosine_lr

# the synthetic targets: a polynomial, a harmonic and a trend plus an oscillation
TARGETS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "poly": lambda x: 0.1 * x**3 - 0.5 * x,
    "harmonic": lambda x: torch.sin(2.0 * x),
    "trend": lambda x: 0.5 * x + torch.sin(x),
}


def targets(x: torch.Tensor) -> torch.Tensor:
    """(N, len(TARGETS)) values of every target at x of shape (N, 1)."""
    return torch.cat([f(x) for f in TARGETS.values()], dim=1)


def data(cfg: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Training inputs and targets (random in the interval), and the out-of-range test grid."""
    gen = torch.Generator().manual_seed(0)
    x_train = (torch.rand(cfg.train_size, 1, generator=gen) * 2 - 1) * cfg.train_range
    half = torch.linspace(cfg.train_range, cfg.test_range, cfg.test_size // 2 + 1)[1:]
    x_test = torch.cat([-half.flip(0), half]).unsqueeze(1)
    return x_train, targets(x_train), x_test, targets(x_test)


def ood_score(pred: torch.Tensor, y: torch.Tensor) -> tuple[float, list[float]]:
    """Mean over targets of 1 / (1 + MSE / Var(y)), and each target's NMSE."""
    nmse = ((pred - y) ** 2).mean(0) / y.var(0, unbiased=False).clamp_min(1e-12)
    nmse = torch.where(torch.isfinite(nmse), nmse, torch.full_like(nmse, math.inf))
    return float((1.0 / (1.0 + nmse)).mean()), [float(v) for v in nmse]


def run_regression(factory: Callable[[], nn.Module], cfg: Any, seed: int, report: Any = None,
                   time_limit_s: float | None = None) -> EvalResult:
    """Train one seed and score it out of range (see the module docstring)."""
    start = time.perf_counter()
    deadline = None if time_limit_s is None else start + time_limit_s
    x_train, y_train, x_test, y_test = data(cfg)
    made: list[nn.Module] = []

    def act() -> nn.Module:
        made.append(factory())
        return made[-1]

    model = MLP(1, cfg.width, cfg.depth, len(TARGETS), act, cfg.init)
    opt = adam(model, cfg.lr, 0.0)
    gen = torch.Generator().manual_seed(seed)
    marks = checkpoint_steps(cfg.steps, cfg.checkpoints)
    for step in range(1, cfg.steps + 1):
        if deadline is not None and time.perf_counter() > deadline:
            return EvalResult(TIMEOUT, 0.0, seed, time.perf_counter() - start, {}, "time limit reached", step - 1)
        for group in opt.param_groups:
            group["lr"] = cosine_lr(cfg.lr, step - 1, cfg.steps)
        idx = torch.randint(len(x_train), (cfg.batch_size,), generator=gen)
        loss = ((model(x_train[idx]) - y_train[idx]) ** 2).mean()
        if not math.isfinite(loss.item()):
            return EvalResult(DIVERGED, 0.0, seed, time.perf_counter() - start, {}, f"loss is not finite at step {step}",
                              step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step in marks and report is not None:
            with torch.no_grad():
                report(marks[step], ood_score(model(x_test), y_test)[0])
    with torch.no_grad():
        score, nmse = ood_score(model(x_test), y_test)
        train_mse = float(((model(x_train) - y_train) ** 2).mean())
    if not math.isfinite(train_mse):
        return EvalResult(DIVERGED, 0.0, seed, time.perf_counter() - start, {}, "training error is not finite", cfg.steps)
    metrics = {"train_mse": train_mse, **{f"ood_nmse/{k}": v for k, v in zip(TARGETS, nmse, strict=True)},
               "dnr": dead_neuron_rate(model, made, x_test), "steps": cfg.steps, **of_network(model, made)}
    return EvalResult(OK, score, seed, time.perf_counter() - start, metrics)
