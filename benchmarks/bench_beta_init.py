"""Where should a perturbation's learnable β start: at 0.1 (GELU-Sine's value) or at 0 (the around spaces' default)?

    python benchmarks/bench_beta_init.py [--seeds 5] [--tasks mnist1d,mnist1d-cnn] [--quick]

Members of ``around:gelu`` (both AlphaEvolve families among them) are trained with β starting at
0.1 and at 0 — at 0 the network starts exactly at GELU and β is still learnable — on the same seeds,
per task. Each pair (member, task) is a paired comparison of the accuracies over the seeds (start
0.1 minus start 0), the p-values Holm-adjusted over all pairs (``actsearch.results.verdict``);
where β ended (mean over layers, then seeds) is reported for both starts. Saves
``benchmarks/results/beta_init.json``; rows are written as they finish and a rerun with the same
``--out`` skips pairs already measured (resumable).
"""

from __future__ import annotations

import json
import math
import time

import harness

from actsearch.evaluators import evaluate
from actsearch.results.learned import learned_constants
from actsearch.results.verdict import compare_pairs

MEMBERS = (  # around:gelu members, as the space writes them
    "gelu(x) + beta * sin(x)",  # GELU-Sine's family (the find: β = 0.1)
    f"gelu(x) * (1 + beta * sinc({math.pi!r} * x))",  # GELU-Sinc's family (the find: β = 0.5)
    "gelu(x + beta * sin(x))",
    "gelu(x) * (1 + beta * tanh(x))",
    "gelu(x) + beta * abs(x)",
    "gelu(x) + beta * exp(-x^2)",
)
STARTS = (0.1, 0.0)


def main() -> None:
    ap = harness.parser(__doc__, "beta_init", quick=True)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--tasks", default="mnist1d,mnist1d-cnn")
    args = ap.parse_args()
    tasks = args.tasks.split(",")
    overrides = {"steps": 100} if args.quick else {}
    done = {}
    if args.out.is_file():
        done = {(r["expression"], r["task"]): r for r in json.loads(args.out.read_text()).get("rows", [])}
    rows = list(done.values())
    for task in tasks:
        for expr in MEMBERS:
            if (expr, task) in done:
                continue
            row = {"expression": expr, "task": task, "starts": {}}
            for start in STARTS:
                began = time.perf_counter()
                res = evaluate(expr, task, seeds=range(args.seeds), params={"beta": start}, **overrides)
                beta = learned_constants(res.runs).get("beta")
                row["starts"][str(start)] = {
                    "scores": {r.seed: r.score for r in res.runs if r.status == "ok"}, "status": str(res.status),
                    "learned_beta": None if beta is None else beta.to_dict(),
                    "wall_s": round(time.perf_counter() - began, 1)}
                print(f"{task:<12} start {start:<4} {res.status} {res.score:.4f} ± {res.score_std:.4f} "
                      f"beta -> {beta.mean if beta else float('nan'):+.3f}  {expr}", flush=True)
            rows.append(row)
            harness.save(args.out, _result(rows, args), args, quiet=True)
    result = _result(rows, args)
    for c in result["comparisons"]:
        print(f"{c['task']:<12} {c['verdict']:<22} 0.1 − 0: {c['mean_diff']:+.4f} "
              f"[{c['ci_low']:+.4f}, {c['ci_high']:+.4f}] p_adj {c['p_adjusted']:.3f}  {c['expression']}")
    harness.save(args.out, result, args)


def _result(rows: list[dict], args) -> dict:  # noqa: ANN001
    pairs, tasks = [], []
    for row in rows:
        a, b = (row["starts"][str(s)]["scores"] for s in STARTS)
        a, b = ({int(k): v for k, v in d.items()} for d in (a, b))
        if len(set(a) & set(b)) >= 2:
            pairs.append((row["expression"], "start 0", a, b))
            tasks.append(row["task"])
    comparisons = [{**c.to_json(), "task": t} for c, t in zip(compare_pairs(pairs), tasks, strict=True)] if pairs else []
    return {"benchmark": "beta_init", "starts": STARTS, "seeds": args.seeds, "rows": rows, "comparisons": comparisons}


if __name__ == "__main__":
    main()
