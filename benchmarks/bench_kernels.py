"""What each unary primitive costs on a hidden layer of the default task, and what the faster asinh
and sinc save in training. One CPU thread.

    python benchmarks/bench_kernels.py [--steps 1000] [--quick]

1. µs per call of every unary primitive of the expression language on a (1, 128, 100) float32
   tensor of N(0, 2²) values (a one-seed member's hidden layer: batch 128, width 100), and on
   (5, 128, 100) (five stacked seeds); ``log`` and ``sqrt`` on |x| + 1e-6, as the grammar applies
   them. torch's own ``asinh`` and ``sinc(x / π)`` are the reference rows for
   :mod:`actsearch.grammar.kernels`.
2. Training (``evaluate`` / ``evaluate_pack`` on ``mnist1d``, ``--steps`` steps): 5 seeds of
   min(x, asinh x) stacked (a halving rung's trial), and a pack of 8 one-seed candidates of which
   two use asinh and one sinc (an exhaustive trial), each with asinh and sinc computed by torch's
   kernels and by ours — both in this run, alternately, the fewest CPU seconds of ``--repeats``.

Saves ``benchmarks/results/bench_kernels.json``.
"""

from __future__ import annotations

import math
import platform
import sys
import time
from pathlib import Path

import harness
import torch

from actsearch.evaluators import evaluate
from actsearch.evaluators.scoring import evaluate_pack
from actsearch.grammar import compile as compiled
from actsearch.grammar import kernels

ROOT = Path(__file__).resolve().parent
PACK = ("min(x, asinh(x))", "swish", "x * tanh(x)", "sigmoid(asinh(x)) * x", "min(x, atan(x))", "sinc(x) + x",
        "exp(-beta * abs(x - cos(x)))", "x * erf(x)")


def per_call_us(fn, x: torch.Tensor, calls: int) -> float:
    return harness.fewest_ms(lambda: fn(x), calls, 3, max(3, calls // 20)) * 1e3


def kernel_table(calls: int) -> list[dict]:
    rows = []
    gen = torch.Generator().manual_seed(0)
    one, five = (torch.randn(m, 128, 100, generator=gen) * 2 for m in (1, 5))
    ops = {**compiled.UNARY, "torch.asinh (reference)": torch.asinh,
           "torch.sinc(x / pi) (reference)": lambda u: torch.sinc(u / math.pi)}
    with torch.no_grad():
        for name, fn in ops.items():
            positive = name in ("log", "sqrt")  # the grammar applies them to |x| + eps
            x1, x5 = (one.abs() + 1e-6, five.abs() + 1e-6) if positive else (one, five)
            row = {"op": name, "us_1x128x100": per_call_us(fn, x1, calls), "us_5x128x100": per_call_us(fn, x5, calls // 4)}
            rows.append(row)
            print(f"{name:24s} {row['us_1x128x100']:8.1f} us  {row['us_5x128x100']:8.1f} us (5 members)", flush=True)
    return rows


def training(steps: int, repeats: int) -> list[dict]:
    """CPU seconds with torch's asinh and sinc vs ours (compiled closures read UNARY when built)."""
    cases = {
        "5 seeds of min(x, asinh x)": lambda: evaluate("min(x, asinh(x))", "mnist1d", range(5), steps=steps),
        "pack of 8 one-seed candidates (2 with asinh, 1 with sinc)": lambda: evaluate_pack(list(PACK), "mnist1d", [0], steps=steps),
    }
    rows = []
    for label, run in cases.items():
        best = {"torch": float("inf"), "ours": float("inf")}
        scores = {}
        for _ in range(repeats):
            for which, fns in (("torch", (torch.asinh, lambda u: torch.sinc(u / math.pi))),
                               ("ours", (kernels.asinh, kernels.sinc))):
                compiled.UNARY["asinh"], compiled.UNARY["sinc"] = fns
                try:
                    start = harness.clock()
                    out = run()
                    best[which] = min(best[which], harness.clock() - start)
                finally:
                    compiled.UNARY["asinh"], compiled.UNARY["sinc"] = kernels.asinh, kernels.sinc
                results = out if isinstance(out, list) else [out]
                scores[which] = [round(r.score, 4) for r in results]
        row = {"case": label, "steps": steps, "torch_kernels_cpu_s": best["torch"], "ours_cpu_s": best["ours"],
               "speedup": best["torch"] / best["ours"], "scores_torch": scores["torch"], "scores_ours": scores["ours"]}
        rows.append(row)
        print(f"{label}: torch's kernels {best['torch']:.1f} s, ours {best['ours']:.1f} s ({row['speedup']:.2f}x); "
              f"scores {scores['torch']} vs {scores['ours']}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = harness.parser(__doc__, "bench_kernels", quick=True, repeats=2)
    ap.add_argument("--steps", type=int, default=1000)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    kernels_rows = kernel_table(40 if args.quick else 2000)
    train_rows = training(30 if args.quick else args.steps, 1 if args.quick else args.repeats)
    out = {"benchmark": "bench_kernels", "machine": args.machine, "threads": 1, "platform": platform.platform(),
           "torch": torch.__version__, "python": sys.version.split()[0], "quick": args.quick,
           "kernels": kernels_rows, "training": train_rows, "wall_s": time.perf_counter() - start,
           "notes": "kernels: µs of CPU per call (fewest of 3 loops); training: CPU seconds of the whole call"}
    harness.save(args.out, out, args, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
