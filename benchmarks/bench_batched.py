"""Batched vs sequential training of candidate seeds on the MNIST-1D MLPs, one CPU thread.

    nice -n 10 python benchmarks/bench_batched.py [--steps 500] [--quick] [--no-compile]

1. Seeds of one candidate (swish): candidate-seeds per second trained one by one
   (``batched=false``) and as one stacked network, for S = 1 (stacked although by default one
   seed alone trains seed by seed), 5, 10, on ``mnist1d`` (the deep
   MLP) and ``mnist1d-shallow``. Wall time of the whole ``evaluate`` call (build, training, final
   metrics), so the ratio is what a search gains.
2. Packs of G = 1, 2, 4, 8 different candidates × 5 seeds on ``mnist1d`` (``evaluate_pack``) vs
   the same candidates' seeds one by one; and packs of G = 1, 2, 4, 8, 10 candidates × 1 seed
   (a search's ``--pack G`` with one seed per candidate).
3. Matrix work: the GFLOP/s achieved (the network's matmul FLOPs per member-step × member-steps,
   over the whole call's CPU time) next to the core's own rate for exactly
   those matmuls (forward ``baddbmm``, backward ``bmm`` for input and weight gradients, at the
   same shapes and member count), timed in the same run without anything else.
4. Engines and variants, per training step of 5 swish members on the deep MLP: the stacked
   ``baddbmm`` network (the default) vs ``torch.func`` (``stack_module_state`` +
   ``vmap(functional_call)``) vs five separate networks; and ``torch.compile`` of the stacked
   loss, with its compile time and the number of steps it takes to pay it back (``--no-compile``
   skips it); the allocator setting. Why ``mnist1d-resnet`` still trains seed by seed: one 3-tap
   conv of its first stage for 5 members as one grouped conv vs five separate convs. (These
   per-step timings live in ``bench_step.py``; this script runs them and saves them with the rest.)

Everything is measured in one process, so the figures are ratios on the same (possibly shared)
machine. Times are this process's CPU seconds (one torch thread), the fewest of ``--repeats``
runs: other engineers' load inflates them far less than the wall clock. Saves
``benchmarks/results/bench_batched.json``; ``--quick`` is a smoke run.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

import harness
import torch

from actsearch.evaluators import evaluate, get_task
from actsearch.evaluators.scoring import evaluate_pack
from actsearch.evaluators.training import engine

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_step  # noqa: E402  (per-step engine, allocator and conv timings)

ROOT = Path(__file__).resolve().parent
default_min = engine.MIN_MEMBERS
PACK = ("swish", "relu", "x * tanh(x)", "x * sigmoid(x)", "x + sin(x)", "gelu", "tanh(x) * x", "elu",
        "min(x, atan(x))", "x * erf(x)")


def layer_shapes(cfg) -> list[tuple[int, int]]:
    """(in, out) of each linear layer of the MNIST-1D MLP."""
    dims = [40] + [cfg.width] * cfg.depth + [10]
    return list(zip(dims[:-1], dims[1:], strict=True))


def flops_per_step(cfg) -> float:
    """Matmul FLOPs of one training step of one member: forward, input and weight gradients
    (the first layer's input needs no gradient)."""
    b = cfg.batch_size
    fwd = [2 * b * i * o for i, o in layer_shapes(cfg)]
    return 3 * sum(fwd) - fwd[0]


def matmul_rate(cfg, members: int, reps: int) -> float:
    """GFLOP/s of exactly the training step's matmuls for ``members`` members, nothing else."""
    b = cfg.batch_size
    shapes = layer_shapes(cfg)
    xs = [torch.randn(members, b, i) for i, _ in shapes]
    ws = [torch.randn(members, i, o) for i, o in shapes]
    bs = [torch.randn(members, 1, o) for _, o in shapes]
    gs = [torch.randn(members, b, o) for _, o in shapes]

    def step() -> None:
        for k, (x, w, bias, g) in enumerate(zip(xs, ws, bs, gs, strict=True)):
            torch.baddbmm(bias, x, w)  # forward
            torch.bmm(x.transpose(1, 2), g)  # weight gradient
            if k:
                torch.bmm(g, w.transpose(1, 2))  # input gradient

    for _ in range(max(3, reps // 10)):
        step()
    best = float("inf")
    for _ in range(3):
        start = clock()
        for _ in range(reps):
            step()
        best = min(best, clock() - start)
    return members * flops_per_step(cfg) * reps / best / 1e9


REPEATS = 2  # each timing is the fastest of this many runs (the machine is shared)
clock = harness.clock


def timed(fn) -> tuple[float, object]:
    """The fewest CPU seconds of ``REPEATS`` calls of ``fn``, and its last result."""
    return harness.timed(fn, REPEATS)


def gflops(members: int, steps: int, cfg, cpu_s: float) -> float:
    """Matmul GFLOP/s over a whole call's CPU time (a lower bound: building the networks,
    checkpoints and the final evaluation count as time but not as FLOPs; ~7 % at 400 steps)."""
    return members * steps * flops_per_step(cfg) / cpu_s / 1e9


def seeds_table(task_name: str, steps: int, counts: tuple[int, ...], reps: int) -> list[dict]:
    rows = []
    cfg = get_task(task_name, steps=steps).config
    for s in counts:
        seeds = list(range(s))
        t_seq, seq = timed(lambda ss=seeds: evaluate("swish", task_name, ss, steps=steps, batched=False))
        engine.MIN_MEMBERS = 1  # one seed alone trains sequentially by default; time the stacked loop anyway
        t_bat, bat = timed(lambda ss=seeds: evaluate("swish", task_name, ss, steps=steps))
        engine.MIN_MEMBERS = default_min
        row = {
            "task": task_name, "candidates": 1, "seeds": s,
            "sequential_cand_seeds_per_s": s / t_seq, "batched_cand_seeds_per_s": s / t_bat,
            "speedup": t_seq / t_bat,
            "sequential_gflops": gflops(s, steps, cfg, t_seq), "batched_gflops": gflops(s, steps, cfg, t_bat),
            "matmul_gflops_1": matmul_rate(cfg, 1, reps), f"matmul_gflops_{s}": matmul_rate(cfg, s, reps),
            "status": [seq.status, bat.status],
        }
        row["batched_fraction_of_matmul"] = row["batched_gflops"] / row[f"matmul_gflops_{s}"]
        row["sequential_fraction_of_matmul"] = row["sequential_gflops"] / row["matmul_gflops_1"]
        rows.append(row)
        print(f"{task_name:16s} S={s:2d}  seq {row['sequential_cand_seeds_per_s']:.3f}/s  "
              f"batched {row['batched_cand_seeds_per_s']:.3f}/s  {row['speedup']:.2f}x  "
              f"GFLOP/s {row['sequential_gflops']:.0f} ({row['sequential_fraction_of_matmul']:.0%}) -> "
              f"{row['batched_gflops']:.0f} ({row['batched_fraction_of_matmul']:.0%} of "
              f"{row[f'matmul_gflops_{s}']:.0f})", flush=True)
    return rows


def packs_table(steps: int, sizes: tuple[int, ...], seeds: int, reps: int) -> list[dict]:
    cfg = get_task("mnist1d", steps=steps).config
    seq_time: dict[str, float] = {}
    for cand in PACK[:max(sizes)]:
        seq_time[cand] = timed(lambda c=cand: evaluate(c, "mnist1d", range(seeds), steps=steps, batched=False))[0]
    rows = []
    for g in sizes:
        cands = list(PACK[:g])
        t_bat, bat = timed(lambda c=cands: evaluate_pack(c, "mnist1d", range(seeds), steps=steps))
        t_seq = sum(seq_time[c] for c in cands)
        m = g * seeds
        row = {
            "task": "mnist1d", "candidates": g, "seeds": seeds, "members": m,
            "sequential_cand_seeds_per_s": m / t_seq, "batched_cand_seeds_per_s": m / t_bat,
            "speedup": t_seq / t_bat, "batched_gflops": gflops(m, steps, cfg, t_bat),
            f"matmul_gflops_{m}": matmul_rate(cfg, m, reps), "status": [r.status for r in bat],
        }
        row["batched_fraction_of_matmul"] = row["batched_gflops"] / row[f"matmul_gflops_{m}"]
        rows.append(row)
        print(f"pack G={g} x {seeds} seeds  seq {row['sequential_cand_seeds_per_s']:.3f}/s  "
              f"batched {row['batched_cand_seeds_per_s']:.3f}/s  {row['speedup']:.2f}x  "
              f"{row['batched_gflops']:.0f} GFLOP/s ({row['batched_fraction_of_matmul']:.0%} of "
              f"{row[f'matmul_gflops_{m}']:.0f})", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = harness.parser(__doc__, "bench_batched", quick=True, repeats=2)
    ap.add_argument("--steps", type=int, default=500, help="training steps per run (the ratio barely depends on it)")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile variant")
    ap.add_argument("--only-allocator", action="store_true", help="only the allocator rows (printed, not saved)")
    args = ap.parse_args(argv)
    global REPEATS
    REPEATS = 1 if args.quick else max(1, args.repeats)
    torch.set_num_threads(1)
    steps = 30 if args.quick else args.steps
    counts = (1, 2) if args.quick else (1, 5, 10)
    sizes = (1, 2) if args.quick else (1, 2, 4, 8)
    reps = 20 if args.quick else 200
    get_task("mnist1d").split()  # generate / load the data before anything is timed
    if args.only_allocator:
        print(json.dumps(bench_step.allocator(reps, (1, 5, 20), REPEATS), indent=1))
        return 0
    for flag in (False, True):  # warm torch's kernels and caches for both paths
        evaluate("swish", "mnist1d", (0, 1), steps=20, batched=flag)
    start = time.perf_counter()
    seeds_rows = seeds_table("mnist1d", steps, counts, reps) + seeds_table("mnist1d-shallow", steps, counts, reps)
    pack_rows = packs_table(steps, sizes, 2 if args.quick else 5, reps)
    # what a search with one seed per candidate gets from --pack G (the default of actsearch search)
    pack_one = packs_table(steps, sizes if args.quick else (*sizes, 10), 1, reps)
    engine_rows = bench_step.engines(steps, reps, not (args.quick or args.no_compile), REPEATS)
    conv = bench_step.grouped_conv(reps, REPEATS)
    alloc = bench_step.allocator(20 if args.quick else 200, (1, 5) if args.quick else (1, 5, 20), REPEATS)
    out = {
        "benchmark": "bench_batched", "steps": steps, "quick": args.quick, "threads": 1,
        "machine": args.machine, "repeats": REPEATS, "platform": platform.platform(), "torch": torch.__version__,
        "python": sys.version.split()[0], "seeds": seeds_rows, "packs": pack_rows, "packs_one_seed": pack_one,
        "engines": engine_rows, "resnet_conv": conv, "allocator": alloc,
        "wall_s": time.perf_counter() - start,
        "notes": "CPU seconds of whole evaluate / evaluate_pack calls (fewest of `repeats`); GFLOP/s: "
                 "matmul FLOPs over those CPU seconds; matmul_gflops_M: the same matmuls alone for M "
                 "members; engines: ms of CPU per step; compile_s: wall seconds",
    }
    harness.save(args.out, out, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
