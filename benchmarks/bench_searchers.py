"""Sample efficiency of the searchers on a fully scored space, and enumeration speed.

    nice -n 10 python benchmarks/bench_searchers.py [--table benchmarks/data/x-gated-mnist1d.csv]

1. Replays every registered searcher with the plain driver on the ``table:FILE`` task built from
   a scored table (default: the exhaustive x-gated run on mnist1d, see benchmarks/data/README.md)
   and reports, median over 200 seeds (``--seeds``; 20 seeds leave the median of random search
   uncertain by about ±10 evaluations), how many evaluations each needs to reach a candidate in
   the table's top 1 % and top 5 %; the ratio to random search is measured in the same run (goal:
   rl or evolution ≤ 0.5× random to the top 1 %). ``evolution-uniform`` is evolution with the
   classic uniform one-component mutation (``temperature=0``), to show what shape-local
   mutation adds.
2. Fingerprints per second while enumerating ``paper-2`` (text → parse → fingerprint, uncached),
   and with the full dedup check (+ trivial test); goal ≥ 1,000/s.

Prints a table and saves ``benchmarks/results/searchers.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import time
from pathlib import Path

from actsearch.evaluators.table import TableTask
from actsearch.grammar import parse
from actsearch.search.runner.replay import replay
from actsearch.search.searchers import SEARCHERS, make_searcher
from actsearch.search.space.core import load_space, space_from_dict
from actsearch.search.space.dedup import distinct

ROOT = Path(__file__).resolve().parent


VARIANTS = {name: (name, {}) for name in SEARCHERS}
VARIANTS["evolution-uniform"] = ("evolution", {"temperature": 0.0})


def evals_to_top(variant, space, task, threshold, seed):
    name, options = VARIANTS[variant]
    trials = replay(make_searcher(name, space, seed=seed, **options), task, stop=lambda t: t.result.score >= threshold)
    reached = bool(trials) and trials[-1].result.score >= threshold
    return len(trials) if reached else math.inf


def covered_space(space_name, task):
    """The space, restricted to the binaries whose every distinct candidate the table scores.

    A table whose making was stopped early (it is written binary block by binary block) still
    gives a fully scored space: the blocks it completed.
    """
    space = load_space(space_name)
    by_fp = {r["fingerprint"] for r in task.rows}
    missing = {space.binary[c[-1][0]].name for c, *_, fp in distinct(space) if fp not in by_fp}
    if not missing:
        return space, sorted(fp for *_, fp in distinct(space))
    spec = space.summary()
    keep = [b for b in spec["binary"] if b not in missing]
    sub = space_from_dict({"units": spec["units"], "unary": spec["unary"], "binary": keep, "gated": spec["gated"],
                           "chain": spec["chain"]}, name=f"{space_name}[{','.join(keep)}]")
    return sub, sorted(fp for *_, fp in distinct(sub))


def sample_efficiency(table, space_name, seeds, fractions=(0.01, 0.05)):
    task = TableTask(table)
    space, fps = covered_space(space_name, task)
    fps = set(fps)
    scores = sorted((r["score"] for r in task.rows if r["status"] == "ok" and r["fingerprint"] in fps), reverse=True)
    n_scored = len(scores)
    out = {"table": str(table), "space": space.name, "distinct": len(fps), "scored": n_scored, "seeds": len(seeds),
           "targets": {}}
    for frac in fractions:
        k = max(1, math.ceil(frac * n_scored))
        threshold = scores[k - 1]
        target = {"top_k": k, "threshold": threshold, "searchers": {}}
        for variant in VARIANTS:
            start = time.perf_counter()
            counts = [evals_to_top(variant, space, task, threshold, s) for s in seeds]
            target["searchers"][variant] = {"median_evals": statistics.median(counts), "counts": counts,
                                            "seconds": round(time.perf_counter() - start, 2)}
        ref = target["searchers"]["random"]["median_evals"]
        for rec in target["searchers"].values():
            rec["ratio_to_random"] = round(rec["median_evals"] / ref, 3)
        out["targets"][f"top {round(frac * 100)}%"] = target
    return out


def enumeration_speed(n):
    space = load_space("paper-2")
    cands = [space.at(i * (space.raw_size // n)) for i in range(n)]  # spread over the enumeration order
    start = time.perf_counter()
    texts = [space.to_text(c) for c in cands]
    t_text = time.perf_counter() - start
    start = time.perf_counter()
    fps = {parse(t, **p).fingerprint for t, p in texts}
    t_fp = time.perf_counter() - start
    start = time.perf_counter()
    n_triv = sum(parse(t, **p).trivial() is not None for t, p in texts[: n // 4])
    t_triv = time.perf_counter() - start
    return {"candidates": n, "distinct": len(fps), "texts_per_s": round(n / t_text),
            "fingerprints_per_s": round(n / (t_text + t_fp)),
            "dedup_checks_per_s": round((n // 4) / (t_text / 4 + t_fp / 4 + t_triv)), "trivial_in_sample": n_triv,
            "goal_per_s": 1000, "ratio_to_goal": round(n / (t_text + t_fp) / 1000, 2)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", default=str(ROOT / "data" / "x-gated-mnist1d.csv"))
    ap.add_argument("--space", default="x-gated")
    ap.add_argument("--seeds", type=int, default=200)
    ap.add_argument("--enumerate", type=int, default=4000, help="paper-2 candidates to fingerprint")
    ap.add_argument("--out", default=str(ROOT / "results" / "searchers.json"))
    args = ap.parse_args()

    eff = sample_efficiency(args.table, args.space, list(range(args.seeds)))
    print(f"{eff['space']} replay on {eff['table']}: {eff['distinct']} distinct, {eff['scored']} scored ok, "
          f"median of {eff['seeds']} seeds")
    for label, target in eff["targets"].items():
        print(f"to the {label} (best {target['top_k']}, score >= {target['threshold']:.4f})")
        print(f"  {'searcher':18s} {'median evals':>12s} {'x random':>9s} {'seconds':>8s}")
        for name, rec in target["searchers"].items():
            print(f"  {name:18s} {rec['median_evals']:12.1f} {rec['ratio_to_random']:9.3f} {rec['seconds']:8.2f}")
    speed = enumeration_speed(args.enumerate)
    print(f"paper-2 enumeration: {speed['fingerprints_per_s']:,} fingerprints/s "
          f"({speed['ratio_to_goal']}x the 1,000/s goal); with trivial check {speed['dedup_checks_per_s']:,}/s")
    result = {"benchmark": "searchers", "python": platform.python_version(), "machine": platform.machine(),
              "sample_efficiency": eff, "enumeration": speed}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
