"""Calibration of the transfer tasks: does each one rank activations instead of saturating?

    nice -n 10 python benchmarks/calibrate_tasks.py [--tasks mnist1d-cnn,mnist1d-vit] [--seeds 5]

For every task (default: the transfer tasks mnist1d-cnn, mnist1d-resnet-ln, mnist1d-vit) at its
default budget, ReLU, Swish (learnable β) and GELU are trained on seeds 0..N-1 with
``actsearch.evaluators.evaluate`` on one CPU thread; the script prints and saves, per task and
function, the mean and the sample standard deviation (n − 1) of the validation score, the
per-seed scores and seconds, and Swish − ReLU and GELU − ReLU in pooled standard deviations
(sqrt((sd_a² + sd_b²) / 2)). The goal of a task: ReLU between 0.70 and 0.95. Seconds per seed are
also given as a ratio to the deep-MLP ``mnist1d`` ReLU seed trained in the same process (the
machine may be shared: read seconds as ratios).

Results are merged by task into ``benchmarks/results/calibration.json``; the panel task
(``panel:...`` with ``--set reference=FILE``) reads ReLU's mean and sd from that file.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import time
from pathlib import Path

import harness
import torch

from actsearch.evaluators import evaluate, get_task

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "results" / "calibration.json"
TASKS = ("mnist1d-cnn", "mnist1d-resnet-ln", "mnist1d-vit")
CANDIDATES = ("relu", "swish", "gelu")
RANGE = (0.70, 0.95)


def pooled(a: dict, b: dict) -> float | None:
    """(mean_a − mean_b) / sqrt((sd_a² + sd_b²) / 2); None when both spreads are 0."""
    sd = math.sqrt((a["sd"] ** 2 + b["sd"] ** 2) / 2)
    return (a["mean"] - b["mean"]) / sd if sd > 0 else None


def calibrate(task: str, seeds: int, reference_s: float) -> dict:
    config = get_task(task).config
    out: dict = {"settings": {k: v for k, v in vars(config).items()}, "candidates": {},
                 "reference_mnist1d_relu_s": reference_s}
    for cand in CANDIDATES:
        start = time.perf_counter()
        res = evaluate(cand, task, seeds=range(seeds))
        scores = [r.score for r in res.runs]
        walls = [r.wall_s for r in res.runs]
        out["candidates"][cand] = {
            "status": res.status,
            "mean": statistics.fmean(scores),
            "sd": statistics.stdev(scores) if len(scores) > 1 else 0.0,
            "scores": scores,
            "seconds_per_seed": statistics.fmean(walls),
            "ratio_to_mnist1d": statistics.fmean(walls) / reference_s,
            "wall_s": time.perf_counter() - start,
        }
        c = out["candidates"][cand]
        print(f"  {task:18s} {cand:6s} {c['mean']:.4f} ± {c['sd']:.4f}  ({c['seconds_per_seed']:.1f} s a seed, "
              f"{c['ratio_to_mnist1d']:.2f}× mnist1d)", flush=True)
    cands = out["candidates"]
    out["swish_minus_relu_pooled_sd"] = pooled(cands["swish"], cands["relu"])
    out["gelu_minus_relu_pooled_sd"] = pooled(cands["gelu"], cands["relu"])
    out["relu_in_range"] = RANGE[0] <= cands["relu"]["mean"] <= RANGE[1]
    return out


def main() -> None:
    ap = harness.parser(__doc__, "calibration", out=OUT)
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    ref = evaluate("relu", "mnist1d", seeds=(0,))
    reference_s = ref.runs[0].wall_s
    print(f"reference: mnist1d relu, one seed: {reference_s:.1f} s")
    path = Path(args.out)
    saved = json.loads(path.read_text()) if path.exists() else {}
    saved.setdefault("tasks", {})
    for task in args.tasks.split(","):
        entry = calibrate(task.strip(), args.seeds, reference_s)
        saved["tasks"][task.strip()] = entry
        print(f"  {task}: swish−relu {entry['swish_minus_relu_pooled_sd']:+.2f} pooled sd, "
              f"gelu−relu {entry['gelu_minus_relu_pooled_sd']:+.2f} pooled sd; relu in "
              f"{RANGE}: {entry['relu_in_range']}", flush=True)
        saved.update({
            "seeds": args.seeds, "threads": 1,
            "machine": f"{platform.machine()} {os.cpu_count()} cpus; shared with other jobs (read seconds as ratios)",
            "torch": torch.__version__,
        })
        harness.save(path, saved, args, quiet=True)  # after every task: a killed run keeps what it measured
    print(f"saved {path}")


if __name__ == "__main__":
    main()
