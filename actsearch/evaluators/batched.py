"""The batched training loop: the seeds of one or more candidates trained as one stacked network.

:func:`train_pack` is :func:`~actsearch.evaluators.train.train_classifier` for a stacked network
of M members — a :class:`~actsearch.evaluators.ensemble.StackedMLP` (the MLPs) or a
:class:`~actsearch.evaluators.stacked.StackedNet` (any other network without batch norm) — and
gives each member what its separate run has: its data order from its own seed (a generator
seeded like the sequential run's, drawn the same way), its own parameters and learnable
constants, its own Adam state (one fused Adam over the stacked tensors: Adam is elementwise, so
each member's update is its own), its own divergence checks (a member whose loss is not finite, or whose weights explode,
is recorded ``diverged`` at that step and removed from the pack; the others go on), its own
checkpoint reports and its own final metrics (validation / test / train accuracy and loss,
dead-neuron rate, the values its learnable constants reached) and test predictions.

The pack shares one clock: its time limit is ``time_limit_s`` per member, as if the members had
run one by one; when it passes, every member still training is recorded ``timeout``. Each
member's ``wall_s`` is its share (1/M) of the pack's time and ``steps_per_s`` is
``M × steps / training time`` (member-steps per second, comparable with the sequential figure);
``pack`` in the metrics is M.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import torch
from torch.nn import functional as F

from actsearch.evaluators.allocator import keep_freed_memory
from actsearch.evaluators.candidate import Candidate
from actsearch.evaluators.data import Split
from actsearch.evaluators.ensemble import MemberForm, StackedMLP, is_stackable, member_function
from actsearch.evaluators.learned import of_pack
from actsearch.evaluators.result import DIVERGED, OK, TIMEOUT, EvalResult
from actsearch.evaluators.stacked import StackedNet, is_vmappable
from actsearch.evaluators.train import Report, adam, checkpoint_steps, cosine_lr

Net = StackedMLP | StackedNet  # what train_pack trains: members, forward, parameters, weights_ok, keep

MIN_MEMBERS = 2  # fewer members train seed by seed: one alone gains little (1.03-1.31x, bench_batched)
CPU_PACK = 10  # most members stacked at once on a CPU (more train one stack after another): per
# member, 10 were never slower than 5 and 40 were 0.87x of 20 (bench_batched, shared machine)


def member_form(cand: Candidate) -> MemberForm | None:
    """The candidate's function for stacked members and its constants' names; None for a user's
    module (only compiled candidates and the library's own modules are known to be elementwise)."""
    from actsearch.grammar import library

    module = cand.factory()
    elementwise = cand.activation is not None or (
        library.module_only(cand.label) and type(module).__module__ == library.__name__)
    return member_function(module, elementwise)


def run_pack(task: Any, cands: Sequence[Candidate], seeds: Sequence[int], reports: Sequence[Report | None],
             time_limit_s: float | None) -> list[list[tuple[EvalResult, torch.Tensor | None]]] | None:
    """Build every (candidate, seed) member with ``task.build`` (from torch's seed, as a separate
    run does), stack them (at most ``CPU_PACK`` at a time on a CPU) and train them; per
    candidate, per seed. An MLP runs as a :class:`StackedMLP`, another network without batch norm
    as a :class:`StackedNet` (one stack per candidate). None for a network with batch norm, for
    fewer than ``MIN_MEMBERS`` members (for a :class:`StackedNet`, seeds per candidate: different
    candidates are different stacks, and one member alone gains nothing)."""
    cfg = task.config
    if len(cands) * len(seeds) < MIN_MEMBERS:
        return None
    members = []  # (candidate index, model, hidden activations, seed), candidate by candidate
    forms = []
    for c, cand in enumerate(cands):
        form = member_form(cand)
        if form is None:
            return None
        forms.append(form)
        gain = cand.he_gain() if cfg.init == "he-gain" else None
        for seed in seeds:
            torch.manual_seed(int(seed))
            model, acts = task.build(cand, gain)
            members.append((c, model, acts, int(seed)))
    mlp = all(is_stackable(m[1]) for m in members)
    if not mlp and (len(seeds) < MIN_MEMBERS or not all(is_vmappable(m[1]) for m in members)):
        return None
    split = task.split()
    size = CPU_PACK if split.x_train.device.type == "cpu" else len(members)
    flat: list[tuple[EvalResult, torch.Tensor | None]] = []
    for lo in range(0, len(members), size):
        chunk = members[lo:lo + size]
        counts = {c: sum(1 for m in chunk if m[0] == c) for c in dict.fromkeys(m[0] for m in chunk)}
        if mlp:
            net: Net = StackedMLP([m[1] for m in chunk], [(forms[c], n) for c, n in counts.items()])
        else:
            net = StackedNet([m[1] for m in chunk], [m[2] for m in chunk], list(counts.values()),
                             split.x_train.dim())
        flat += train_pack(net, split, cfg, [m[3] for m in chunk], reports=reports[lo:lo + size],
                           time_limit_s=time_limit_s)
    n = len(seeds)
    return [flat[c * n:(c + 1) * n] for c in range(len(cands))]


@torch.no_grad()
def evaluate_members(net: Net, x: torch.Tensor, y: torch.Tensor, batch: int = 1000,
                     ) -> tuple[list[float], list[float], torch.Tensor]:
    """Per member: mean cross-entropy, accuracy, and predicted classes (M, N) on the shared (x, y)."""
    m, n = net.members, max(len(y), 1)
    loss = [0.0] * m
    preds = []
    for i in range(0, len(y), batch):
        out = net(x[i:i + batch]).float()
        yb = y[i:i + batch]
        chunk = F.cross_entropy(out.reshape(-1, out.shape[-1]), yb.repeat(m), reduction="none")
        for k, v in enumerate(chunk.view(m, -1).sum(1).tolist()):
            loss[k] += v
        preds.append(out.argmax(-1))
    pred = torch.cat(preds, 1) if preds else torch.empty(m, 0, dtype=torch.long)
    acc = [v / n for v in (pred == y).sum(1).tolist()]
    return [v / n for v in loss], acc, pred.cpu()


def train_pack(net: Net, split: Split, cfg: Any, seeds: Sequence[int], *,
               reports: Sequence[Report | None] | None = None, time_limit_s: float | None = None,
               ) -> list[tuple[EvalResult, torch.Tensor | None]]:
    """Train the pack's members (member i has seed ``seeds[i]``); one (result, test predictions)
    per member, in member order. ``cfg`` is the task config, as for ``train_classifier``."""
    keep_freed_memory()
    start = time.perf_counter()
    total = net.members
    if len(seeds) != total:
        raise ValueError(f"{total} members need {total} seeds, got {len(seeds)}")
    reports = list(reports) if reports is not None else [None] * total
    device = split.x_train.device
    gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
    opt = adam_for(net, cfg)
    marks = checkpoint_steps(cfg.steps, cfg.checkpoints)
    n_train, sub = len(split.y_train), min(cfg.report_subset, len(split.y_val))
    live = list(range(total))  # pack row -> member
    checkpoints: list[list[float]] = [[] for _ in range(total)]
    results: list[tuple[EvalResult, torch.Tensor | None] | None] = [None] * total
    deadline = None if time_limit_s is None else start + time_limit_s * total
    train_start = time.perf_counter()

    def stop(member: int, status: str, step: int, why: str) -> None:
        metrics = {"steps": step, "checkpoints": checkpoints[member], "pack": total}
        wall = (time.perf_counter() - start) / total
        results[member] = (EvalResult(status, 0.0, int(seeds[member]), wall, metrics, why, step), None)

    for step in range(1, cfg.steps + 1):
        if deadline is not None and time.perf_counter() > deadline:
            for member in live:
                stop(member, TIMEOUT, step - 1,
                     f"time limit {time_limit_s:g} s per member reached at step {step - 1}")
            live = []
            break
        for group in opt.param_groups:
            group["lr"] = cosine_lr(cfg.lr, step - 1, cfg.steps)
        idx = torch.stack([torch.randint(n_train, (cfg.batch_size,), generator=gens[m]) for m in live]).to(device)
        xb, yb = split.x_train[idx], split.y_train[idx]
        losses = net.loss_backward(xb, yb)
        opt.step()
        failed: dict[int, str] = {}
        for row, finite in enumerate(losses.isfinite().tolist()):
            if not finite:
                failed[row] = f"loss is not finite at step {step}"
        if step % 100 == 0 or step in marks or step == cfg.steps:
            for row, ok in enumerate(net.weights_ok(cfg.max_weight).tolist()):
                if not ok and row not in failed:
                    failed[row] = f"weights exploded (> {cfg.max_weight:g}) at step {step}"
        if failed:
            for row, why in failed.items():
                stop(live[row], DIVERGED, step, why)
            alive = [row not in failed for row in range(len(live))]
            live = [m for row, m in enumerate(live) if alive[row]]
            if not live:
                break
            opt = _carry_over(opt, net, net.keep(alive), cfg)
        if step in marks:
            _, accs, _ = evaluate_members(net, split.x_val[:sub], split.y_val[:sub])
            for row, acc in enumerate(accs):
                checkpoints[live[row]].append(acc)
            for row, acc in enumerate(accs):
                report = reports[live[row]]
                if report is not None:
                    report(marks[step], acc)
    train_s = time.perf_counter() - train_start

    if live:
        _final(net, split, cfg, live, seeds, checkpoints, results, start, total, train_s)
    assert all(r is not None for r in results)  # every member ended: diverged, timed out or finished
    return results


def _final(net: Net, split: Split, cfg: Any, live: list[int], seeds: Sequence[int],
           checkpoints: list[list[float]], results: list, start: float, total: int, train_s: float) -> None:
    """The final metrics of the members still training, into ``results``."""
    val_loss, val_acc, _ = evaluate_members(net, split.x_val, split.y_val)
    test_loss, test_acc, test_pred = evaluate_members(net, split.x_test, split.y_test)
    n_val = len(split.y_val)
    train_loss, train_acc, _ = evaluate_members(net, split.x_train[:n_val], split.y_train[:n_val])
    x_dnr = split.x_val[:cfg.dnr_samples]
    dnr = net.dead_neuron_rates(x_dnr)
    constants = of_pack(net)  # each member's own slice of the stacked constants
    wall = (time.perf_counter() - start) / total
    for row, member in enumerate(live):
        seed = int(seeds[member])
        if not all(math.isfinite(v) for v in (val_loss[row], test_loss[row], train_loss[row])):
            metrics = {"steps": cfg.steps, "checkpoints": checkpoints[member], "pack": total}
            results[member] = (EvalResult(DIVERGED, 0.0, seed, wall, metrics,
                                          "evaluation loss is not finite after training", cfg.steps), None)
            continue
        metrics = {
            "val_acc": val_acc[row], "val_loss": val_loss[row], "test_acc": test_acc[row],
            "test_loss": test_loss[row], "train_acc": train_acc[row], "train_loss": train_loss[row],
            "dnr": dnr[row], "steps": cfg.steps, "steps_per_s": total * cfg.steps / max(train_s, 1e-9),
            "checkpoints": checkpoints[member], "pack": total, **constants[row],
        }
        results[member] = (EvalResult(OK, val_acc[row], seed, wall, metrics), test_pred[row])


def adam_for(net: Net, cfg: Any) -> torch.optim.Optimizer:
    """The task's Adam over the stacked tensors (one instance per member, in effect)."""
    return adam(net.parameters(), cfg.lr, cfg.weight_decay)


def _carry_over(opt: torch.optim.Optimizer, net: Net, index: list[torch.Tensor | None],
                cfg: Any) -> torch.optim.Optimizer:
    """A new Adam over the pack's new tensors holding the kept rows of the old one's state."""
    old = [p for group in opt.param_groups for p in group["params"]]
    new_opt = adam_for(net, cfg)
    new_params = iter(net.parameters())
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
