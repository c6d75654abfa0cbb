"""Evaluator cost per task and how well the default task separates activations.

    nice -n 10 python benchmarks/bench_evaluators.py [--seeds 5] [--gain-seeds 3] [--quick]

1. Seconds per candidate (ReLU, one seed, one CPU thread) on every task at its default budget,
   with the ratio to the ``mnist1d`` run measured in the same process. ``cifar10`` runs on a
   generated CIFAR-shaped fixture for a few steps and is extrapolated to its default budget (no
   data is downloaded; set ACTSEARCH_DATA to time the real data set).
2. MNIST-1D (deep plain MLP, default recipe): accuracy over ``--seeds`` seeds of relu, swish
   (learnable β), silu (Swish-1), gelu, tanh and x + x³ — mean and population std of the
   held-out (validation) score, test accuracy, PD and dead-neuron rate — and the Swish–ReLU gap
   divided by the pooled standard deviation. ``--gain-seeds`` repeats the comparison with
   ``init = he-gain`` to see whether the candidate's own gain changes the ranking.

Prints tables and saves ``benchmarks/results/evaluators.json``. ``--quick`` shrinks every budget
(a smoke run of this script, not a measurement).
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import harness
import torch

from actsearch.evaluators import evaluate, get_task

ROOT = Path(__file__).resolve().parent
CANDIDATES = ("relu", "swish", "silu", "gelu", "tanh", "x + x^3")
TASK_ORDER = ("mnist1d", "mnist1d-shallow", "mnist1d-resnet", "digits", "xor", "teacher", "cifar10")


def cifar_fixture(folder: Path, n: int = 256) -> Path:
    """A CIFAR-shaped binary-format directory of random images (for timing only)."""
    import numpy as np

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        rec = rng.integers(0, 256, (n, 3073), dtype=np.uint8)
        rec[:, 0] %= 10
        rec.tofile(folder / f"{name}.bin")
    return folder


def time_tasks(quick: bool) -> dict:
    out = {}
    for name in TASK_ORDER:
        overrides: dict = {"steps": 30} if quick and name not in ("xor",) else {}
        if name == "xor" and quick:
            overrides = {"trials": 2}
        extrapolate = 1.0
        if name == "cifar10":
            default_steps = get_task("cifar10").config.steps
            if not os.environ.get("ACTSEARCH_DATA"):
                tmp = Path(tempfile.mkdtemp(prefix="bench-cifar-"))
                overrides["data_dir"] = str(cifar_fixture(tmp / "cifar-10-batches-bin"))
                overrides["val_size"] = 128
            overrides["steps"] = 3 if quick else 10
            extrapolate = default_steps / overrides["steps"]
        warm = {**overrides, **({"trials": 1} if name == "xor" else {"steps": 2})}
        get_task(name, **warm).evaluate_seed("relu", 0, threads=1)  # warm-up: data cache, kernels
        res = evaluate("relu", name, seeds=(1,), threads=1, **overrides)
        run = res.runs[0]
        out[name] = {"status": res.status, "score": res.score, "wall_s": round(run.wall_s * extrapolate, 3),
                     "steps_per_s": run.metrics.get("steps_per_s"), "extrapolated": extrapolate != 1.0,
                     "overrides": {k: v for k, v in overrides.items() if k != "data_dir"}}
        print(f"  {name:16s} {out[name]['wall_s']:8.2f} s  score {res.score:.3f}"
              + ("  (extrapolated)" if extrapolate != 1.0 else ""), flush=True)
    ref = out["mnist1d"]["wall_s"]
    for rec in out.values():
        rec["ratio_to_mnist1d"] = round(rec["wall_s"] / ref, 3)
    return out


def compare(seeds: list[int], quick: bool, **overrides) -> dict:
    out = {}
    if quick:
        overrides.setdefault("steps", 60)
    for cand in CANDIDATES:
        res = evaluate(cand, "mnist1d", seeds=seeds, threads=1, **overrides)
        scores = [r.score for r in res.runs]
        ok = [r for r in res.runs if r.status == "ok"]
        out[cand] = {
            "status": res.status, "mean": statistics.fmean(scores),
            "std": statistics.pstdev(scores) if len(scores) > 1 else 0.0, "scores": scores,
            "test_acc": statistics.fmean([r.metrics["test_acc"] for r in ok]) if ok else None,
            "pd": res.metrics.get("pd"), "dnr": res.metrics.get("dnr"),
            "seconds_per_seed": res.wall_s / len(seeds), "error": res.error,
        }
        rec = out[cand]
        print(f"  {cand:10s} {rec['status']:9s} {rec['mean']:.4f} ± {rec['std']:.4f}  test "
              f"{rec['test_acc'] if rec['test_acc'] is None else round(rec['test_acc'], 4)}  "
              f"PD {rec['pd'] if rec['pd'] is None else round(rec['pd'], 3)}  {rec['seconds_per_seed']:.1f} s/seed",
              flush=True)
    return out


def gap(table: dict, a: str = "swish", b: str = "relu") -> dict:
    sa, sb = table[a]["std"], table[b]["std"]
    pooled = math.sqrt((sa**2 + sb**2) / 2)
    diff = table[a]["mean"] - table[b]["mean"]
    return {"pair": f"{a} - {b}", "gap": diff, "pooled_std": pooled,
            "gap_over_pooled_std": diff / pooled if pooled > 0 else math.inf}


def main() -> None:
    parser = harness.parser(__doc__, "evaluators", quick=True)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--gain-seeds", type=int, default=3, help="seeds for the he-gain comparison (0: skip)")
    args = parser.parse_args()
    start = time.perf_counter()
    print("seconds per candidate (relu, 1 seed, 1 thread):", flush=True)
    tasks = time_tasks(args.quick)
    print(f"mnist1d deep MLP, {args.seeds} seeds (init he-relu):", flush=True)
    table = compare(list(range(args.seeds)), args.quick)
    result = {"tasks": tasks, "mnist1d": {"init": "he-relu", "seeds": args.seeds, "candidates": table,
                                          "gaps": [gap(table), gap(table, "silu", "relu"), gap(table, "gelu", "relu")]}}
    for g in result["mnist1d"]["gaps"]:
        print(f"  {g['pair']}: gap {g['gap']:.4f}, pooled std {g['pooled_std']:.4f}, "
              f"gap/pooled std {g['gap_over_pooled_std']:.1f}")
    if args.gain_seeds:
        print(f"mnist1d deep MLP, {args.gain_seeds} seeds (init he-gain):", flush=True)
        gtable = compare(list(range(args.gain_seeds)), args.quick, init="he-gain")
        rank = lambda t: sorted(t, key=lambda c: -t[c]["mean"])  # noqa: E731
        result["mnist1d_he_gain"] = {"init": "he-gain", "seeds": args.gain_seeds, "candidates": gtable,
                                     "ranking": rank(gtable), "ranking_he_relu": rank(table)}
        print(f"  ranking he-relu: {rank(table)}\n  ranking he-gain: {rank(gtable)}")
    result["meta"] = {"python": sys.version.split()[0], "torch": torch.__version__, "platform": platform.platform(),
                      "cpu_count": os.cpu_count(), "quick": args.quick,
                      "seconds": round(time.perf_counter() - start, 1)}
    harness.save(args.out, result, args, quiet=True)
    print(f"saved {args.out} ({result['meta']['seconds']} s)")


if __name__ == "__main__":
    main()
