"""Batched vs sequential training of candidate seeds on the transfer networks, one CPU thread.

    nice -n 10 python benchmarks/bench_batched_archs.py [--steps 500] [--quick] [--net NAME]

The networks that train as a ``torch.func`` stack
(:class:`~actsearch.evaluators.training.stacked.StackedNet`): ``mnist1d-cnn``, ``mnist1d-resnet-ln``,
``mnist1d-vit``, with S = 1 and 5 seeds of swish and packs of G = 2 and 4 candidates × 5 seeds
(``batched=true`` forced, whatever the task's default), batched vs sequential candidate-seeds
per second (whole ``evaluate`` / ``evaluate_pack`` calls, timed alternately), and the ms of CPU
per training step of the loop alone. Saved to ``benchmarks/results/bench_batched_archs.json``;
``--net`` re-measures one network and replaces its rows. The MLPs are ``bench_batched.py``'s.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import harness
import torch
from bench_batched import PACK
from harness import clock

from actsearch.evaluators import evaluate, get_task
from actsearch.evaluators.scoring import evaluate_pack
from actsearch.evaluators.training import engine

ROOT = Path(__file__).resolve().parent
REPEATS = 2  # each timing is the fastest of this many runs (the machine is shared)
default_min = engine.MIN_MEMBERS


ARCHS = ("mnist1d-cnn", "mnist1d-resnet-ln", "mnist1d-vit")


def timed_pair(first, second) -> tuple[float, object, float, object]:
    """The fewest CPU seconds of ``REPEATS`` calls of each of two functions, called alternately
    (so both see the same load), and their last results."""
    return harness.timed_pair(first, second, REPEATS)


def archs_table(task_name: str, steps: int, counts: tuple[int, ...], sizes: tuple[int, ...],
                seeds: int) -> list[dict]:
    """Candidate-seeds per second, batched (a ``StackedNet``) vs one by one, of S seeds of swish
    and of packs of G candidates × ``seeds`` seeds, on one transfer network."""
    cfg = {"steps": steps}
    rows = []

    def row(g: int, s: int, t_seq: float, t_bat: float, statuses: list[str]) -> dict:
        m = g * s
        out = {"task": task_name, "candidates": g, "seeds": s, "members": m,
               "sequential_cand_seeds_per_s": m / t_seq, "batched_cand_seeds_per_s": m / t_bat,
               "speedup": t_seq / t_bat, "status": statuses}
        print(f"{task_name:18s} G={g} S={s}  seq {out['sequential_cand_seeds_per_s']:.3f}/s  "
              f"batched {out['batched_cand_seeds_per_s']:.3f}/s  {out['speedup']:.2f}x", flush=True)
        return out

    engine.MIN_MEMBERS = 1  # time the stacked loop for one seed too
    for s in counts:
        ss = list(range(s))
        t_seq, seq, t_bat, bat = timed_pair(lambda ss=ss: evaluate("swish", task_name, ss, batched=False, **cfg),
                                            lambda ss=ss: evaluate("swish", task_name, ss, batched=True, **cfg))
        assert all("pack" in r.metrics for r in bat.runs), "the batched path did not run"
        rows.append(row(1, s, t_seq, t_bat, [seq.status, bat.status]))
    engine.MIN_MEMBERS = default_min
    for g in sizes:
        cands = list(PACK[:g])
        t_seq, _, t_bat, bat = timed_pair(
            lambda c=cands: [evaluate(x, task_name, range(seeds), batched=False, **cfg) for x in c],
            lambda c=cands: evaluate_pack(c, task_name, range(seeds), batched=True, **cfg))
        assert all("pack" in r.metrics for res in bat for r in res.runs), "the batched path did not run"
        rows.append(row(g, seeds, t_seq, t_bat, [r.status for r in bat]))
    return rows


def arch_step(task_name: str, members: int, reps: int) -> dict:
    """ms of CPU per training step (forward, backward, Adam) of ``members`` swish members on one
    transfer network: the ``StackedNet`` vs as many separate networks."""
    import copy

    from torch.nn import functional as F

    from actsearch.evaluators.candidate import as_candidate
    from actsearch.evaluators.training.stacked import StackedNet

    task = get_task(task_name)
    cand, split = as_candidate("swish"), task.split()
    built = []
    for seed in range(members):
        torch.manual_seed(seed)
        built.append(task.build(cand, None))
    gen = torch.Generator().manual_seed(0)

    def stepper(loss_of, params):
        opt = torch.optim.Adam(params, lr=1e-3, fused=True)

        def step() -> None:
            idx = torch.randint(len(split.y_train), (members, 128), generator=gen)
            opt.zero_grad(set_to_none=True)
            loss_of(split.x_train[idx], split.y_train[idx]).sum().backward()
            opt.step()

        return step

    net = StackedNet([copy.deepcopy(m) for m, _ in built], [[]] * members, [members], 2)

    def stacked(xb, yb):
        return F.cross_entropy(net(xb).reshape(-1, 10), yb.reshape(-1), reduction="none").view(members, -1).mean(1)

    separate = [copy.deepcopy(m) for m, _ in built]

    def one_by_one(xb, yb):
        return torch.stack([F.cross_entropy(m(xb[k]), yb[k]) for k, m in enumerate(separate)])

    steps = [stepper(stacked, net.parameters()), stepper(one_by_one, [p for m in separate for p in m.parameters()])]
    for step in steps:
        for _ in range(max(3, reps // 10)):
            step()
    rounds = [[], []]
    for _ in range(2 * REPEATS + 1):  # interleaved, so both see the same load
        for k, step in enumerate(steps):
            start = clock()
            for _ in range(reps):
                step()
            rounds[k].append((clock() - start) / reps * 1e3)
    stacked_ms, separate_ms = min(rounds[0]), min(rounds[1])
    out = {"task": task_name, "members": members, "stacked_ms": stacked_ms, "separate_ms": separate_ms}
    out["speedup"] = out["separate_ms"] / out["stacked_ms"]
    print(f"{task_name:18s} per step, {members} members: stacked {out['stacked_ms']:.2f} ms, "
          f"separate {out['separate_ms']:.2f} ms ({out['speedup']:.2f}x)", flush=True)
    return out


def archs_main(args: argparse.Namespace) -> int:
    steps = 30 if args.quick else args.steps
    counts, sizes, seeds = ((1, 2), (2,), 2) if args.quick else ((1, 5), (2, 4), 5)
    nets = tuple(args.net or ARCHS)
    get_task("mnist1d").split()
    for name in nets:  # warm torch's kernels and caches for both paths
        for flag in (False, True):
            evaluate("swish", name, (0, 1), steps=10, batched=flag)
    start = time.perf_counter()
    rows = [r for name in nets for r in archs_table(name, steps, counts, sizes, seeds)]
    per_step = [arch_step(name, seeds, 10 if args.quick else 60) for name in nets]
    path = args.out
    old: dict = {}
    if args.net and path.is_file():  # re-measured networks replace their rows; the others stay
        old = json.loads(path.read_text())
        rows = [r for r in old.get("rows", []) if r["task"] not in nets] + rows
        per_step = [r for r in old.get("per_step", []) if r["task"] not in nets] + per_step
    out = {
        "benchmark": "bench_batched_archs", "steps": steps, "quick": args.quick, "threads": 1,
        "machine": args.machine, "repeats": REPEATS, "platform": platform.platform(), "torch": torch.__version__,
        "python": sys.version.split()[0], "rows": rows, "per_step": per_step, "wall_s": time.perf_counter() - start,
        "notes": "CPU seconds of whole evaluate / evaluate_pack calls (fewest of `repeats`), batched=true "
                 "(a torch.func StackedNet: one vmapped stack per candidate) vs batched=false, timed "
                 "alternately; per_step: ms of CPU per training step "
                 "of the training loop alone (no building, checkpoints or final metrics)",
    }
    if "history" in old:  # a note on where the kept rows came from
        out["history"] = old["history"]
    harness.save(path, out, args)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = harness.parser(__doc__, "bench_batched_archs", quick=True, repeats=2)
    ap.add_argument("--steps", type=int, default=500, help="training steps per run")
    ap.add_argument("--net", action="append", choices=ARCHS,
                    help="only this network (repeatable); its rows replace those in the file")
    args = ap.parse_args(argv)
    global REPEATS
    REPEATS = 1 if args.quick else max(1, args.repeats)
    torch.set_num_threads(1)
    return archs_main(args)


if __name__ == "__main__":
    raise SystemExit(main())
