"""Which small task gives the first five minutes a believable ordering?

    nice -n 10 python benchmarks/bench_smoke_task.py [--task mnist1d] [--steps 500,1000] [--seeds 3]

The README's smoke command ranks candidates on a small budget. On ``digits`` (40 steps) linear
functions rank first, so this script trains swish (learnable β), gelu, relu and two linear
functions (x + x, x + β·x) on seeds 0..N-1 for each budget of ``--steps`` (plus ``--set``
settings of the task) with ``actsearch.evaluators.evaluate`` on one thread, and reports each
function's mean ± sample sd, seconds a seed, and whether the ordering holds: min(swish, gelu) >
relu > max(linear). Prints a table and saves ``benchmarks/results/smoke_task.json``. The machine
may be shared with other jobs: read seconds as ratios between rows of one run.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path

import harness
import torch

from actsearch.evaluators import evaluate

CANDIDATES = ("swish", "gelu", "relu", "x + x", "x + beta*x")
LINEAR = ("x + x", "x + beta*x")


def measure(task: str, steps: int, seeds: int, settings: dict) -> dict:
    out: dict = {"task": task, "steps": steps, "settings": settings, "candidates": {}}
    for cand in CANDIDATES:
        start = time.perf_counter()
        res = evaluate(cand, task, seeds=range(seeds), steps=steps, **settings)
        scores = [r.score for r in res.runs]
        out["candidates"][cand] = {"status": res.status, "mean": statistics.fmean(scores),
                                   "sd": statistics.stdev(scores) if len(scores) > 1 else 0.0,
                                   "scores": scores, "seconds_per_seed": (time.perf_counter() - start) / seeds}
    c = out["candidates"]
    out["ordering_holds"] = min(c["swish"]["mean"], c["gelu"]["mean"]) > c["relu"]["mean"] > max(
        c[n]["mean"] for n in LINEAR)
    out["swish_minus_relu"] = c["swish"]["mean"] - c["relu"]["mean"]
    out["relu_minus_linear"] = c["relu"]["mean"] - max(c[n]["mean"] for n in LINEAR)
    return out


def main() -> None:
    ap = harness.parser(__doc__, "smoke_task")
    ap.add_argument("--task", default="mnist1d")
    ap.add_argument("--steps", default="500,1000")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--set", action="append", default=[], help="a task setting NAME=VALUE (repeatable)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    settings = dict(item.split("=", 1) for item in args.set)
    rows = []
    for steps in (int(s) for s in args.steps.split(",")):
        row = measure(args.task, steps, args.seeds, settings)
        rows.append(row)
        cells = "  ".join(f"{n} {v['mean']:.3f}±{v['sd']:.3f}" for n, v in row["candidates"].items())
        secs = statistics.fmean(v["seconds_per_seed"] for v in row["candidates"].values())
        print(f"{args.task} steps={steps}: {cells}  ({secs:.1f} s a seed)  ordering holds: {row['ordering_holds']}",
              flush=True)
    path = Path(args.out)
    saved = json.loads(path.read_text()) if path.exists() else {"runs": []}
    saved["runs"] = [r for r in saved["runs"] if (r["task"], r["steps"], r["settings"]) not in
                     {(x["task"], x["steps"], x["settings"]) for x in rows}] + rows
    saved.update({"seeds": args.seeds, "threads": 1, "torch": torch.__version__,
                  "machine": f"{platform.machine()}; shared with other jobs (read seconds as ratios)"})
    harness.save(path, saved, args)


if __name__ == "__main__":
    main()
