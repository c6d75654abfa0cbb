"""The one training loop: the members of an engine trained on a budget, failures recorded as results.

:func:`train` trains the M members of an :class:`~actsearch.evaluators.training.engine.Engine` — one
network, or a stack of them — for ``cfg.steps`` and gives each member what a separate run of its
seed has: Adam (one fused Adam over the engine's tensors; Adam is elementwise, so each member's
update is its own) with cosine learning-rate decay to 0, batches drawn with a generator seeded by
the member's seed (drawn the same way whatever the engine, so a seed fixes the run on the CPU;
``augment(x, generator)`` draws from that generator too), its own checks, checkpoint reports and
final metrics.

Failures are statuses, not exceptions. A member whose loss is NaN/inf, or one of whose weights is
non-finite or larger than ``cfg.max_weight``, is recorded ``diverged`` at that step and dropped;
the others go on with their optimizer state carried over. The members share one clock: the time
limit is ``time_limit_s`` per member, as if they had run one by one, and when it passes every member
still training is recorded ``timeout``. On a CPU the losses are checked every step; on a GPU at
most :data:`LAZY_CHECK` steps apart and whenever the weights are checked (every
:data:`WEIGHT_CHECK` steps, at checkpoints, at the end), so that a step does not wait for the
device — a member's ``diverged`` step is that of its first non-finite loss either way.

A few times per run each member scores a validation subset and its ``report(checkpoint, score)``
is called (these evaluations draw no random numbers: how many there are changes no member's
training). A report that raises :class:`~actsearch.evaluators.result.MemberStop` (a scheduler's cut
at a rung, successive halving) stops that member: it is recorded ``stopped`` with that score, the
step it reached and the cut in its error text, and dropped as a diverged one is; the others go on
unchanged. A finished member's metrics: validation / test / train score and loss, dead-neuron
rate, steps, steps per second (member-steps, ``M × steps / training time``: comparable between
engines), its checkpoints, the values its learnable constants reached
(:mod:`actsearch.evaluators.learned`), and for a stack ``pack`` (M); its ``wall_s`` is its share
(1/M) of the time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from actsearch.evaluators.data import Split
from actsearch.evaluators.metrics import LossFn, MetricFn
from actsearch.evaluators.result import DIVERGED, OK, TIMEOUT, EvalResult, MemberStop, Status
from actsearch.evaluators.training.allocator import keep_freed_memory
from actsearch.evaluators.training.single import SingleNetwork

if TYPE_CHECKING:
    from actsearch.evaluators.training.engine import Engine

Report = Callable[[int, float], None]
Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
Outcome = tuple[EvalResult, torch.Tensor | None]  # a member's result and its test predictions
# The training code's numerics: bumped when the same settings and seed give other numbers (cached
# ReLU references of panels are keyed by it). 3: the stacked MLP differentiated by hand, panel
# references trained as the candidates are (stacked where the member batches).
NUMERICS = 3
LAZY_CHECK = 50  # on a GPU, steps between two checks of the losses at most
WEIGHT_CHECK = 100  # steps between two checks of the weights (also at checkpoints and at the end)


def cosine_lr(base: float, step: int, total: int) -> float:
    """Cosine decay from ``base`` at step 0 to 0 at step ``total``."""
    return base * 0.5 * (1.0 + math.cos(math.pi * min(step, total) / max(total, 1)))


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
                     augment: Augment | None = None, loss: LossFn | None = None, metric: MetricFn | None = None,
                     ) -> Outcome:
    """Train one network (``acts``: its hidden activation instances) with one seed: :func:`train`
    of a :class:`~actsearch.evaluators.training.single.SingleNetwork`. ``loss`` / ``metric`` replace
    cross-entropy / accuracy (a user's ``ModelTask``); the score is then the metric on the
    validation split (``val_acc`` holds it)."""
    engine = SingleNetwork(model, acts, loss=loss, metric=metric)
    return train(engine, split, cfg, [seed], reports=[report], time_limit_s=time_limit_s, augment=augment)[0]


def train(engine: Engine, split: Split, cfg: Any, seeds: Sequence[int], *,
          reports: Sequence[Report | None] | None = None, time_limit_s: float | None = None,
          augment: Augment | None = None, lazy: bool | None = None) -> list[Outcome]:
    """Train the engine's members (member i has seed ``seeds[i]`` and ``reports[i]``) on ``split``;
    one (result, test predictions) per member, in member order.

    ``cfg`` provides steps, batch_size, lr, weight_decay, checkpoints, report_subset, max_weight
    and dnr_samples (a task's config). ``lazy``: check the losses :data:`LAZY_CHECK` steps apart
    (None: where the data is on a GPU)."""
    keep_freed_memory()
    start = time.perf_counter()
    total = engine.members
    if len(seeds) != total:
        raise ValueError(f"{total} members need {total} seeds, got {len(seeds)}")
    reports = list(reports) if reports is not None else [None] * total
    device = split.x_train.device
    lazy = device.type == "cuda" if lazy is None else lazy
    gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
    opt = adam(engine.parameters(), cfg.lr, cfg.weight_decay)
    marks = checkpoint_steps(cfg.steps, cfg.checkpoints)
    sub = min(cfg.report_subset, len(split.y_val))
    live = list(range(total))  # engine row -> member
    checkpoints: list[list[float]] = [[] for _ in range(total)]
    results: list[Outcome | None] = [None] * total
    recent: list[torch.Tensor] = []  # the losses (M,) of the steps since the last check
    deadline = None if time_limit_s is None else start + time_limit_s * total
    extra = {"pack": total} if engine.stacked else {}
    train_start = time.perf_counter()

    def stop(member: int, status: Status, step: int, why: str, score: float = 0.0, **more: Any) -> None:
        metrics = {"steps": step, "checkpoints": checkpoints[member], **extra, **more}
        wall = (time.perf_counter() - start) / total
        results[member] = (EvalResult(status, score, int(seeds[member]), wall, metrics, why, step), None)

    for step in range(1, cfg.steps + 1):
        if deadline is not None and time.perf_counter() > deadline:
            per = " per member" if engine.stacked else ""
            for member in live:
                stop(member, TIMEOUT, step - 1, f"time limit {time_limit_s:g} s{per} reached at step {step - 1}")
            live = []
            break
        for group in opt.param_groups:
            group["lr"] = cosine_lr(cfg.lr, step - 1, cfg.steps)
        xb, yb = _batch(split, cfg.batch_size, [gens[m] for m in live], augment)
        recent.append(engine.loss_backward(xb, yb))
        opt.step()
        weigh = step % WEIGHT_CHECK == 0 or step in marks or step == cfg.steps
        failed: dict[int, tuple[int, str]] = {}  # row -> (step, why)
        if not lazy or weigh or len(recent) >= LAZY_CHECK:
            failed = _not_finite(recent, step)
            recent.clear()
        if weigh and len(failed) < len(live):
            for row, ok in enumerate(engine.weights_ok(cfg.max_weight).tolist()):
                if not ok and row not in failed:
                    failed[row] = (step, f"weights exploded (> {cfg.max_weight:g}) at step {step}")
        if failed:
            for row, (at, why) in failed.items():
                stop(live[row], DIVERGED, at, why)
            live, opt = _drop(engine, opt, cfg, live, set(failed))
            if not live:
                break
        if step in marks:
            scores = engine.evaluate(split.x_val[:sub], split.y_val[:sub]).scores
            for row, score in enumerate(scores):
                checkpoints[live[row]].append(score)
            cut: dict[int, MemberStop] = {}  # row -> the scheduler's stop
            for row, score in enumerate(scores):
                report = reports[live[row]]
                if report is not None:
                    try:
                        report(marks[step], score)
                    except MemberStop as why:
                        cut[row] = why
            if cut:
                for row, why in cut.items():
                    stop(live[row], Status.STOPPED, step, why.describe(step, cfg.steps), why.score, rung=why.rung)
                live, opt = _drop(engine, opt, cfg, live, set(cut))
                if not live:
                    break
    train_s = time.perf_counter() - train_start

    if live:
        _final(engine, split, cfg, live, seeds, checkpoints, results, extra, start, train_s)
    assert all(r is not None for r in results)  # every member ended: diverged, timed out or finished
    return results  # type: ignore[return-value]


def _drop(engine: Engine, opt: torch.optim.Optimizer, cfg: Any, live: list[int], rows: set[int],
          ) -> tuple[list[int], torch.optim.Optimizer]:
    """Drop the engine rows ``rows`` (members that diverged or were stopped): the members still
    training, and the optimizer over what is left (the old one when none is left)."""
    alive = [row not in rows for row in range(len(live))]
    kept = [m for row, m in enumerate(live) if alive[row]]
    if not kept:
        return kept, opt
    return kept, _carry_over(opt, engine, engine.keep(alive), cfg)


def _batch(split: Split, size: int, gens: Sequence[torch.Generator], augment: Augment | None,
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Each member's training batch (M, size, …), drawn with its own generator."""
    n_train = len(split.y_train)
    idx = torch.stack([torch.randint(n_train, (size,), generator=g) for g in gens]).to(split.x_train.device)
    xb, yb = split.x_train[idx], split.y_train[idx]
    if augment is not None:
        parts = [augment(xb[row], g) for row, g in enumerate(gens)]
        xb = parts[0].unsqueeze(0) if len(parts) == 1 else torch.stack(parts)
    return xb, yb


def _not_finite(recent: list[torch.Tensor], step: int) -> dict[int, tuple[int, str]]:
    """The rows whose loss was not finite in one of the ``recent`` steps (the last is ``step``),
    with the first such step."""
    bad = ~torch.stack(recent).isfinite()  # (steps, M)
    first = bad.int().argmax(0).tolist()
    failed = {}
    for row, hit in enumerate(bad.any(0).tolist()):
        if hit:
            at = step - len(recent) + 1 + first[row]
            failed[row] = (at, f"loss is not finite at step {at}")
    return failed


def _final(engine: Engine, split: Split, cfg: Any, live: list[int], seeds: Sequence[int],
           checkpoints: list[list[float]], results: list[Outcome | None], extra: dict[str, int],
           start: float, train_s: float) -> None:
    """The final metrics of the members still training, into ``results``."""
    total = len(results)
    val = engine.evaluate(split.x_val, split.y_val)
    test = engine.evaluate(split.x_test, split.y_test)
    n_val = len(split.y_val)
    fit = engine.evaluate(split.x_train[:n_val], split.y_train[:n_val])
    dnr = engine.dead_neuron_rates(split.x_val[:cfg.dnr_samples])
    constants = engine.learned()
    wall = (time.perf_counter() - start) / total
    for row, member in enumerate(live):
        seed = int(seeds[member])
        if not all(math.isfinite(v) for v in (val.losses[row], test.losses[row], fit.losses[row], val.scores[row])):
            metrics = {"steps": cfg.steps, "checkpoints": checkpoints[member], **extra}
            results[member] = (EvalResult(DIVERGED, 0.0, seed, wall, metrics,
                                          "evaluation loss is not finite after training", cfg.steps), None)
            continue
        metrics = {
            "val_acc": val.scores[row], "val_loss": val.losses[row], "test_acc": test.scores[row],
            "test_loss": test.losses[row], "train_acc": fit.scores[row], "train_loss": fit.losses[row],
            "dnr": dnr[row], "steps": cfg.steps, "steps_per_s": total * cfg.steps / max(train_s, 1e-9),
            "checkpoints": checkpoints[member], **extra, **constants[row],
        }
        results[member] = (EvalResult(OK, val.scores[row], seed, wall, metrics), test.preds[row])


def _carry_over(opt: torch.optim.Optimizer, engine: Engine, index: list[torch.Tensor | None],
                cfg: Any) -> torch.optim.Optimizer:
    """A new Adam over the engine's new tensors holding the kept rows of the old one's state."""
    old = [p for group in opt.param_groups for p in group["params"]]
    new_opt = adam(engine.parameters(), cfg.lr, cfg.weight_decay)
    new_params = iter(engine.parameters())
    for p, idx in zip(old, index, strict=True):
        if idx is None:
            continue
        q = next(new_params)
        state = opt.state.get(p)
        if state:
            new_opt.state[q] = {k: (v.clone() if k == "step" or v.dim() == 0 else v[idx.to(v.device)].clone())
                                for k, v in state.items()}
    for group in new_opt.param_groups:
        group["lr"] = opt.param_groups[0]["lr"]
    return new_opt
