"""Packs: the seeds of one or more candidates built as members and trained as stacked networks.

:func:`run_pack` builds every (candidate, seed) member with the task's own builder (from torch's
seed, as a separate run does, so each member starts as its separate run starts), asks
:func:`~actsearch.evaluators.training.engine.choose_engine` which engine trains them — a
:class:`~actsearch.evaluators.training.stacked_mlp.StackedMLP` for MLPs, a
:class:`~actsearch.evaluators.training.stacked.StackedNet` for another network without batch norm, or none
(the seeds then train one by one) — and trains the stacks with
:func:`~actsearch.evaluators.training.loop.train`, which gives each member what its separate run has
(see there). :func:`train_pack` trains one stack already built.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from actsearch.evaluators.candidate import Candidate
from actsearch.evaluators.data import Split
from actsearch.evaluators.training import engine
from actsearch.evaluators.training.engine import Engine, EngineKind, choose_engine, member_form
from actsearch.evaluators.training.loop import Outcome, Report, train
from actsearch.evaluators.training.stacked import StackedNet
from actsearch.evaluators.training.stacked_mlp import StackedMLP

CPU_PACK = 10  # most members stacked at once on a CPU (more train one stack after another): per
# member, 10 were never slower than 5 and 40 were 0.87x of 20 (bench_batched, shared machine)


def run_pack(task: Any, cands: Sequence[Candidate], seeds: Sequence[int], reports: Sequence[Report | None],
             time_limit_s: float | None) -> list[list[Outcome]] | None:
    """Every (candidate, seed) member of ``task`` (its ``config``, ``build`` and ``split``) trained
    in stacks (at most :data:`CPU_PACK` members at a time on a CPU); per candidate, per seed.
    ``reports`` has one entry per member, candidate by candidate. None where
    :func:`~actsearch.evaluators.training.engine.choose_engine` says seed by seed, or a candidate has no
    stacked form (:func:`~actsearch.evaluators.training.engine.member_form`)."""
    cfg = task.config
    if len(cands) * len(seeds) < engine.MIN_MEMBERS:  # seed by seed whatever the network: build none
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
    kind = choose_engine([m[1] for m in members], candidates=len(cands), seeds=len(seeds))
    if kind is EngineKind.SINGLE:
        return None
    split = task.split()
    size = CPU_PACK if split.x_train.device.type == "cpu" else len(members)
    flat: list[Outcome] = []
    for lo in range(0, len(members), size):
        chunk = members[lo:lo + size]
        counts = {c: sum(1 for m in chunk if m[0] == c) for c in dict.fromkeys(m[0] for m in chunk)}
        if kind is EngineKind.STACKED_MLP:
            net: Engine = StackedMLP([m[1] for m in chunk], [(forms[c], n) for c, n in counts.items()])
        else:
            net = StackedNet([m[1] for m in chunk], [m[2] for m in chunk], list(counts.values()),
                             split.x_train.dim())
        flat += train(net, split, cfg, [m[3] for m in chunk], reports=reports[lo:lo + size],
                      time_limit_s=time_limit_s)
    n = len(seeds)
    return [flat[c * n:(c + 1) * n] for c in range(len(cands))]


def train_pack(net: Engine, split: Split, cfg: Any, seeds: Sequence[int], *,
               reports: Sequence[Report | None] | None = None, time_limit_s: float | None = None,
               ) -> list[Outcome]:
    """Train a stack already built (member i has seed ``seeds[i]``): :func:`train` of it."""
    return train(net, split, cfg, seeds, reports=reports, time_limit_s=time_limit_s)
