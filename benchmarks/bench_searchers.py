"""Sample efficiency of the searchers on a fully scored space, and enumeration speed.

    nice -n 10 python benchmarks/bench_searchers.py [--table benchmarks/data/x-gated-mnist1d.csv]
        [--seeds 200] [--variants random,rl,...] [--probe TASK]
    # two halves of the variants at once on two cores, then one file:
    python benchmarks/bench_searchers.py --variants A,B --out a.json & \
    python benchmarks/bench_searchers.py --variants random,C,D --enumerate 0 --out b.json; wait
    python benchmarks/bench_searchers.py --merge a.json b.json

1. Replays every registered searcher and variant (``--variants``) through the real loop on the
   ``table:FILE`` task built from a scored table (default: the exhaustive x-gated run on mnist1d;
   any table in the format of benchmarks/data/README.md, with or without a ``fingerprint``
   column) and reports, median and interquartile range over 200 seeds (``--seeds``; 20 seeds
   leave the median of random search uncertain by about ±10 evaluations), how many evaluations
   each needs to reach a candidate in the table's top 1 % and top 5 % (one replay per seed gives
   both); the ratio to random search is measured in the same run. ``evolution-uniform`` is
   evolution with the classic uniform one-component mutation (``temperature=0``); ``rl-old`` the
   controller's first form, the other ``rl-*`` what was tried to make it sample-efficient.
   A table that scores only part of the space: the top k are of the scored candidates, and a
   proposal the table does not score is told to the searcher as a failure and not counted.
2. Fingerprints per second while enumerating ``paper-2`` (text → parse → fingerprint, uncached),
   and with the full dedup check (+ trivial test); goal ≥ 1,000/s.

Prints a table and saves ``benchmarks/results/searchers.json``.
"""

from __future__ import annotations

import json
import math
import platform
import statistics
import time
from pathlib import Path

import harness

from actsearch.evaluators.table import TableTask
from actsearch.grammar import parse
from actsearch.search.loop.replay import replay
from actsearch.search.searchers import SEARCHERS, make_searcher
from actsearch.search.space.dedup import distinct
from actsearch.search.space.files import load_space

ROOT = Path(__file__).resolve().parent


VARIANTS = {name: (name, {}) for name in SEARCHERS}
VARIANTS["evolution-uniform"] = ("evolution", {"temperature": 0.0})
# The RL controller (rl: its default, a forest choosing each batch of 4 among 32 controller
# samples): its first form (raw accuracy, 0 for failures, EMA baseline, batches of 8, no model)
# and the other forms tried to make it sample-efficient; every variant stays in the output.
ALONE = {"model": "none", "pool": 0}  # the controller without the forest
VARIANTS["rl-old"] = ("rl", {**ALONE, "reward": "raw", "batch_size": 8})
VARIANTS["rl-rank"] = ("rl", dict(ALONE))
VARIANTS["rl-rank-b8"] = ("rl", {**ALONE, "batch_size": 8})
VARIANTS["rl-prior"] = ("rl", {**ALONE, "prior": 20})
VARIANTS["rl-dyna"] = ("rl", {"pool": 0, "dyna": 8})
VARIANTS["rl-pool-dyna"] = ("rl", {"dyna": 8})
VARIANTS["rl-pool64"] = ("rl", {"pool": 64})
VARIANTS["rl-pool-b2"] = ("rl", {"pool": 16, "batch_size": 2})
VARIANTS["rl-explore"] = ("rl", {"explore": 0.25})  # a quarter of the forest's pool drawn uniformly
NOT_IN_TABLE = "not in the score table"
PROBE = ["mnist1d"]  # the task whose network the searchers' features probe (--probe)


def replay_counts(variant, space, task, thresholds, seed):
    """Evaluations until the first score >= each threshold (inf if never), in one replay.

    A proposal the table does not score (a table of part of the space) is told to the searcher
    as a failure (``invalid``) and not counted as an evaluation."""
    name, options = VARIANTS[variant]
    top = max(thresholds)
    if name in ("surrogate", "rl"):  # their features probe this task's network
        options = {"task": PROBE[0], **options}
    searcher = make_searcher(name, space, seed=seed, **options)
    trials = replay(searcher, task, stop=lambda t: t.result.score >= top)
    counts = [math.inf] * len(thresholds)
    n = 0
    for t in trials:
        if t.result.status == "invalid" and NOT_IN_TABLE in (t.result.runs[0].error or "" if t.result.runs else ""):
            continue
        n += 1
        for i, thr in enumerate(thresholds):
            if counts[i] == math.inf and t.result.status == "ok" and t.result.score >= thr:
                counts[i] = n
    # how concentrated the controller is when the replay stops (nats; uniform: log of the raw size)
    entropy = searcher.concentration() if hasattr(searcher, "concentration") else None
    return counts, entropy


def scored_space(space_name, task):
    """The space, the fingerprints of its distinct candidates the table scores (a row's fingerprint
    is computed from its expression where the table has no ``fingerprint`` column) and the
    number of its distinct candidates."""
    space = load_space(space_name)
    by_fp = {r["fingerprint"] or parse(r["expression"], **r["params"]).fingerprint for r in task.rows}
    every = {fp for *_, fp in distinct(space)}
    return space, sorted(every & by_fp), len(every)


def _quartiles(counts):
    finite = sorted(counts)
    q1, q3 = (statistics.quantiles(finite, n=4, method="inclusive")[i] for i in (0, 2)) if len(finite) > 1 \
        else (finite[0], finite[0])
    return q1, q3


def sample_efficiency(table, space_name, seeds, variants, fractions=(0.01, 0.05)):
    task = TableTask(table)
    space, fps, n_distinct = scored_space(space_name, task)
    fps_set = set(fps)
    rows = [r for r in task.rows if (r["fingerprint"] or parse(r["expression"], **r["params"]).fingerprint) in fps_set]
    scores = sorted((r["score"] for r in rows if r["status"] == "ok"), reverse=True)
    n_scored = len(scores)
    out = {"table": str(table), "space": space.name, "distinct": n_distinct, "in_table": len(fps),
           "scored": n_scored, "seeds": len(seeds), "targets": {}}
    targets = []
    for frac in fractions:
        k = max(1, math.ceil(frac * n_scored))
        targets.append((f"top {round(frac * 100)}%", k, scores[k - 1]))
        out["targets"][targets[-1][0]] = {"top_k": k, "threshold": scores[k - 1], "searchers": {}}
    for variant in variants:
        start = time.perf_counter()
        runs = [replay_counts(variant, space, task, [thr for *_, thr in targets], s) for s in seeds]
        per_seed = [c for c, _ in runs]
        entropies = [e for _, e in runs if e is not None]
        seconds = round(time.perf_counter() - start, 2)
        if entropies:
            out.setdefault("controller_entropy_at_stop", {})[variant] = {
                "median_nats": round(statistics.median(entropies), 3), "uniform_nats": round(math.log(space.raw_size), 3)}
        for i, (label, _, _) in enumerate(targets):
            counts = [c[i] for c in per_seed]
            q1, q3 = _quartiles(counts)
            out["targets"][label]["searchers"][variant] = {
                "median_evals": statistics.median(counts), "q1": q1, "q3": q3, "counts": counts,
                "options": VARIANTS[variant][1], "seconds_both_targets": seconds}
        print(f"  {variant:14s} " + "  ".join(
            f"{label}: {out['targets'][label]['searchers'][variant]['median_evals']:6.1f}" for label, *_ in targets)
            + f"  ({seconds:.0f} s)", flush=True)
    for target in out["targets"].values():
        ref = target["searchers"].get("random", {}).get("median_evals")
        for rec in target["searchers"].values():
            rec["ratio_to_random"] = round(rec["median_evals"] / ref, 3) if ref else None
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


def report(eff):
    print(f"{eff['space']}: {eff['distinct']} distinct, {eff['in_table']} in the table, {eff['scored']} scored ok, "
          f"{eff['seeds']} seeds")
    for label, target in eff["targets"].items():
        print(f"to the {label} (best {target['top_k']}, score >= {target['threshold']:.4f})")
        print(f"  {'searcher':18s} {'median evals':>12s} {'IQR':>11s} {'x random':>9s}")
        for name, rec in target["searchers"].items():
            ratio = "" if rec["ratio_to_random"] is None else f"{rec['ratio_to_random']:9.3f}"
            print(f"  {name:18s} {rec['median_evals']:12.1f} {rec['q1']:5.0f}-{rec['q3']:<5.0f} {ratio}")


def merged(paths):
    """Saved outputs of runs over disjoint variants (same table, space and seeds) as one."""
    runs = [json.loads(Path(p).read_text()) for p in paths]
    first = runs[0]
    eff = first["sample_efficiency"]
    for other in runs[1:]:
        o = other["sample_efficiency"]
        if (o["table"], o["space"], o["seeds"]) != (eff["table"], eff["space"], eff["seeds"]):
            raise SystemExit("--merge: the runs replayed different tables, spaces or seed counts")
        for label, target in o["targets"].items():
            eff["targets"][label]["searchers"].update(target["searchers"])
        eff.setdefault("controller_entropy_at_stop", {}).update(o.get("controller_entropy_at_stop", {}))
        first["enumeration"] = first.get("enumeration") or other.get("enumeration")
    for target in eff["targets"].values():
        ref = target["searchers"].get("random", {}).get("median_evals")
        for rec in target["searchers"].values():
            rec["ratio_to_random"] = round(rec["median_evals"] / ref, 3) if ref else None
    first["merged_from"] = [str(p) for p in paths]
    return first


def main():
    ap = harness.parser(__doc__, "searchers")
    ap.add_argument("--table", default=str(ROOT / "data" / "x-gated-mnist1d.csv"))
    ap.add_argument("--space", default="x-gated")
    ap.add_argument("--seeds", type=int, default=200)
    ap.add_argument("--variants", default=",".join(VARIANTS),
                    help=f"comma-separated, of: {', '.join(VARIANTS)}")
    ap.add_argument("--probe", default="mnist1d",
                    help="task whose network the surrogate's and rl's features probe (the table's task)")
    ap.add_argument("--enumerate", type=int, default=4000, help="paper-2 candidates to fingerprint (0: skip)")
    ap.add_argument("--merge", nargs="+", metavar="JSON",
                    help="instead of replaying: combine saved outputs of runs over disjoint --variants "
                         "(e.g. two halves run at once on two cores) into --out")
    args = ap.parse_args()

    if args.merge:
        result = merged(args.merge)
        report(result["sample_efficiency"])
    else:
        PROBE[0] = args.probe
        variants = [v.strip() for v in args.variants.split(",") if v.strip()]
        unknown = [v for v in variants if v not in VARIANTS]
        if unknown:
            raise SystemExit(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
        print(f"{args.space} replay on {args.table}, {args.seeds} seeds:", flush=True)
        eff = sample_efficiency(args.table, args.space, list(range(args.seeds)), variants)
        report(eff)
        speed = enumeration_speed(args.enumerate) if args.enumerate else None
        if speed:
            print(f"paper-2 enumeration: {speed['fingerprints_per_s']:,} fingerprints/s "
                  f"({speed['ratio_to_goal']}x the 1,000/s goal); with trivial check {speed['dedup_checks_per_s']:,}/s")
        result = {"benchmark": "searchers", "python": platform.python_version(), "machine": args.machine,
                  "probe": args.probe, "cpu": platform.machine(), "sample_efficiency": eff, "enumeration": speed}
    harness.save(args.out, result, args, default=str)


if __name__ == "__main__":
    main()
