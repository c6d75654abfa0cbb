"""Two tiny tasks from the literature whose outcome an activation decides on its own.

- XOR with one neuron (Pinto & Tavares 2024, "PReLU: yet another single-layer solution to the XOR
  problem"): y = f(w1·x1 + w2·x2) on the four XOR points with inputs in {-1, 1}, trained by Adam
  on the squared error; a trial succeeds when all four points land on the right side of 0.5.
  With PReLU the unit can learn |·| and succeeds; with ReLU it cannot.
- Teacher–student filter (Du, Lee & Tian 2017, "When is a convolutional filter easy to learn?"):
  a random unit-norm teacher filter w* produces labels y = mean_j f(w*·Z_j) over non-overlapping
  patches Z_j of non-Gaussian (Laplace) inputs; a student with the same architecture learns w
  from the labels. The score is |cos(w, w*)|: how well the student recovers the filter.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from actsearch.evaluators.learned import Recorder, of_modules
from actsearch.evaluators.metrics import dead_neuron_rate
from actsearch.evaluators.result import DIVERGED, OK, TIMEOUT, EvalResult

Factory = Callable[[], nn.Module]


def _timed_out(deadline: float | None) -> bool:
    return deadline is not None and time.perf_counter() > deadline


def xor_points(inputs: str = "pm1") -> tuple[torch.Tensor, torch.Tensor]:
    """The four XOR inputs ({-1, 1}² for "pm1", {0, 1}² for "01") and their targets."""
    if inputs not in ("pm1", "01"):  # the task's settings refuse others (XorConfig.inputs)
        raise ValueError(f"xor inputs must be pm1 or 01, got {inputs!r}")
    lo = -1.0 if inputs == "pm1" else 0.0
    x = torch.tensor([[lo, lo], [lo, 1.0], [1.0, lo], [1.0, 1.0]])
    return x, torch.tensor([0.0, 1.0, 1.0, 0.0])


def xor_trial(factory: Factory, cfg: Any, seed: int) -> tuple[bool, float, float]:
    """One single-neuron XOR trial: (success, final loss, dead-unit flag)."""
    torch.manual_seed(seed)
    x, y = xor_points(cfg.inputs)
    lin, act = nn.Linear(2, 1, bias=cfg.bias), factory()
    model = nn.Sequential(lin, act)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    for _ in range(cfg.epochs):
        loss = F.mse_loss(model(x).squeeze(1), y)
        if not math.isfinite(loss.item()):
            return False, math.inf, 1.0
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        out = model(x).squeeze(1)
        loss = F.mse_loss(out, y).item()
    success = bool(((out > 0.5).float() == y).all()) and math.isfinite(loss)
    return success, loss, dead_neuron_rate(model, [act], x)


def run_xor(factory: Factory, cfg: Any, seed: int, report: Callable | None = None,
            time_limit_s: float | None = None) -> EvalResult:
    """``cfg.trials`` XOR trials; score = fraction that classify all four points correctly."""
    start = time.perf_counter()
    deadline = None if time_limit_s is None else start + time_limit_s
    wins, losses, dead = 0, [], []
    made = Recorder(factory)  # every trial's activation, for its learned constants
    for i in range(cfg.trials):
        if _timed_out(deadline):
            return EvalResult(TIMEOUT, 0.0, seed, time.perf_counter() - start, {"trials": i},
                              f"time limit {time_limit_s:g} s reached after {i} trials", i)
        ok, loss, d = xor_trial(made, cfg, seed * 1000 + i)
        wins += ok
        losses.append(loss)
        dead.append(d)
        if report is not None and (i + 1) % max(1, cfg.trials // cfg.checkpoints) == 0:
            report((i + 1) // max(1, cfg.trials // cfg.checkpoints), wins / (i + 1))
    wall = time.perf_counter() - start
    finite = [v for v in losses if math.isfinite(v)]
    if not finite:
        return EvalResult(DIVERGED, 0.0, seed, wall, {"trials": cfg.trials}, "loss is not finite in every trial", 0)
    metrics = {"success_rate": wins / cfg.trials, "val_acc": wins / cfg.trials, "trials": cfg.trials,
               "train_loss": sum(finite) / len(finite), "diverged_trials": len(losses) - len(finite),
               "dnr": sum(dead) / len(dead), "steps": cfg.epochs * cfg.trials,
               "steps_per_s": cfg.epochs * cfg.trials / max(wall, 1e-9), **made.learned()}
    return EvalResult(OK, wins / cfg.trials, seed, wall, metrics)


class FilterNet(nn.Module):
    """y = mean_j f(w·Z_j) over the non-overlapping patches Z_j of width ``patch``."""

    def __init__(self, patch: int, act: nn.Module, w: torch.Tensor) -> None:
        super().__init__()
        self.patch, self.act = patch, act
        self.w = nn.Parameter(w.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x.view(len(x), -1, self.patch) @ self.w
        return self.act(z).mean(1)


def run_teacher(factory: Factory, cfg: Any, seed: int, report: Callable | None = None,
                time_limit_s: float | None = None) -> EvalResult:
    """Train a student filter on a teacher's labels; score = |cos(student, teacher)|."""
    start = time.perf_counter()
    deadline = None if time_limit_s is None else start + time_limit_s
    gen = torch.Generator().manual_seed(seed)
    laplace = lambda n: torch.distributions.Laplace(0.0, 1 / math.sqrt(2)).sample((n, cfg.input_dim))  # noqa: E731
    torch.manual_seed(seed)
    w_star = torch.randn(cfg.patch, generator=gen)
    w_star /= w_star.norm()
    x_train, x_test = laplace(cfg.train_size), laplace(cfg.test_size)
    with torch.no_grad():
        teacher = FilterNet(cfg.patch, factory(), w_star)
        y_train, y_test = teacher(x_train), teacher(x_test)
    if not (y_train.isfinite().all() and y_test.isfinite().all()):
        return EvalResult(DIVERGED, 0.0, seed, time.perf_counter() - start, {}, "teacher labels are not finite", 0)
    student = FilterNet(cfg.patch, factory(), torch.randn(cfg.patch, generator=gen) / math.sqrt(cfg.patch))
    opt = torch.optim.Adam(student.parameters(), lr=cfg.lr)
    every = max(1, cfg.steps // cfg.checkpoints)
    cos = lambda: abs(F.cosine_similarity(student.w.detach(), w_star, dim=0).item())  # noqa: E731
    for step in range(1, cfg.steps + 1):
        if _timed_out(deadline):
            return EvalResult(TIMEOUT, 0.0, seed, time.perf_counter() - start, {},
                              f"time limit {time_limit_s:g} s reached at step {step - 1}", step - 1)
        idx = torch.randint(cfg.train_size, (cfg.batch_size,), generator=gen)
        loss = F.mse_loss(student(x_train[idx]), y_train[idx])
        if not math.isfinite(loss.item()) or not bool(student.w.isfinite().all()):
            return EvalResult(DIVERGED, 0.0, seed, time.perf_counter() - start, {"steps": step},
                              f"loss is not finite at step {step}", step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if report is not None and step % every == 0:
            report(step // every, cos())
    with torch.no_grad():
        test_mse = F.mse_loss(student(x_test), y_test).item()
        train_mse = F.mse_loss(student(x_train), y_train).item()
    wall = time.perf_counter() - start
    score = cos() if math.isfinite(test_mse) else 0.0
    metrics = {"cosine": score, "val_acc": score, "test_loss": test_mse, "train_loss": train_mse,
               "weight_error": min((student.w.detach() - s * w_star).norm().item() for s in (1, -1)),
               "dnr": dead_neuron_rate(student, [student.act], x_test[:1000]),
               "steps": cfg.steps, "steps_per_s": cfg.steps / max(wall, 1e-9), **of_modules([student.act])}
    return EvalResult(OK if math.isfinite(test_mse) else DIVERGED, score, seed, wall, metrics)
