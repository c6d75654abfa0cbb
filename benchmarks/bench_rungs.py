"""Rungs for successive halving: how well a candidate's score after 1/9 or 1/3 of its training
predicts its full-budget score, and what a cut at those rungs would keep and save.

Reads a finished run whose candidates trained with several checkpoints (``--set checkpoints=9``:
checkpoint k is the validation-subset score after k/9 of the steps), e.g.::

    actsearch search --space x-gated --searcher exhaustive --task mnist1d --budget 400 --seeds 1 \\
        --set checkpoints=9 --run-dir runs/rungs-mnist1d
    python benchmarks/bench_rungs.py runs/rungs-mnist1d

and prints, per checkpoint, the Spearman rank correlation between checkpoint and final scores and
how many of the final top 10 a cut there (keep the best 1/eta) would keep; then it replays the
run's candidates through two halving policies — ASHA-style (a member goes on at a rung if its score
is in the best 1/eta of all scores recorded at that rung by packs finished before its pack was
handed out, no cut before ``min_seen`` are recorded) and synchronous per pack (the best 1/eta of
the pack's live members go on) — in the run's order and in shuffled orders, and reports the
training they cost (seed-equivalents: steps trained / steps of one full seed) and how many of the
full run's top 10 finish. No training: it reads the stored checkpoints.
"""

from __future__ import annotations

import math
import random
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import harness
from scipy.stats import spearmanr

sys.path.insert(0, str(harness.REPO))

from actsearch.results.records import Role  # noqa: E402
from actsearch.results.store import open_store  # noqa: E402
from actsearch.search.loop.halving import threshold  # noqa: E402


@dataclass(frozen=True)
class Curve:
    """One trained candidate: its checkpoint scores (None past the step it diverged) and final score."""

    expression: str
    trial: int
    checkpoints: tuple[float | None, ...]
    final: float | None  # None: it did not finish (diverged)
    diverged_at: float  # the fraction of the steps it reached (1.0 when it finished)


def curves(run_dir: Path) -> tuple[list[Curve], int]:
    """The run's trained search candidates (one seed each), in trial order, and the checkpoints a seed has."""
    store = open_store(run_dir, readonly=True)
    out, n = [], 0
    for r in store.candidates(include_pending=False):
        if r.role != Role.SEARCH or r.alias_of is not None or r.trial is None or not r.runs:
            continue
        m = r.runs[0].get("metrics", {})
        cps, steps = m.get("checkpoints") or [], m.get("steps")
        if not steps:
            continue
        total = steps if r.status == "ok" else None
        n = max(n, len(cps))
        out.append(Curve(r.expression, r.trial, tuple(cps), r.score if r.status == "ok" else None,
                         1.0 if total else 0.0))
    out.sort(key=lambda c: c.trial)
    for i, c in enumerate(out):  # a diverged candidate reached the checkpoints it has
        if c.final is None:
            out[i] = Curve(c.expression, c.trial, c.checkpoints, None, len(c.checkpoints) / max(n, 1))
    return out, n


def top(cs: Sequence[Curve], k: int) -> set[str]:
    done = sorted((c for c in cs if c.final is not None), key=lambda c: -c.final)
    return {c.expression for c in done[:k]}


def correlations(cs: Sequence[Curve], n: int, eta: int, k: int) -> list[dict]:
    """Per checkpoint: Spearman (checkpoint vs final, finished candidates) and the final top k a cut keeps."""
    done = [c for c in cs if c.final is not None and len(c.checkpoints) == n]
    best = top(done, k)
    rows = []
    for j in range(n):
        xs = [c.checkpoints[j] for c in done]
        rho = spearmanr(xs, [c.final for c in done]).statistic
        keep = max(1, math.ceil(len(done) / eta))
        cut = sorted(xs, reverse=True)[keep - 1]
        kept = sum(1 for c in done if c.expression in best and c.checkpoints[j] >= cut)
        rows.append({"checkpoint": j + 1, "fraction": round((j + 1) / n, 4), "spearman": round(float(rho), 4),
                     f"top{k}_kept_by_best_1/{eta}": kept})
    return rows


def _cut(scores: list[float], eta: int, min_seen: int) -> float | None:
    return threshold(scores, eta, min_seen)  # the product's rule (actsearch.search.loop.halving)


def _fraction(c: Curve, reached: float) -> float:
    return reached


def simulate(cs: Sequence[Curve], n: int, rungs: Sequence[int], eta: int, min_seen: int, pack: int,
             workers: int, policy: str, weight: Callable[[Curve, float], float] = _fraction) -> tuple[float, set[str]]:
    """Seed-equivalents trained and the candidates that finish, under ``policy`` (asha or sync);
    ``weight(c, fraction)``: what training ``c`` to that fraction of its checkpoints costs (default:
    the fraction)."""
    recorded: dict[int, list[float]] = {r: [] for r in rungs}
    packs = [list(cs[i:i + pack]) for i in range(0, len(cs), pack)]
    pending: list[list[tuple[int, float]]] = []  # rung scores of packs in flight
    cost, finished = 0.0, set()
    for members in packs:
        if len(pending) >= workers:  # the oldest pack in flight has finished before this one starts
            for r, s in pending.pop(0):
                recorded[r].append(s)
        cuts = {r: _cut(recorded[r], eta, min_seen) for r in rungs}
        live, seen = list(members), []
        reached = {c.expression: c.diverged_at for c in members}
        for r in rungs:
            scored = [(c, c.checkpoints[r - 1]) for c in live if len(c.checkpoints) >= r and c.checkpoints[r - 1] is not None]
            seen.extend((r, s) for _, s in scored)
            if policy == "asha":
                go = [c for c, s in scored if cuts[r] is None or s >= cuts[r]]
            else:
                keep = max(1, math.ceil(len(scored) / eta))
                go = [c for c, _ in sorted(scored, key=lambda p: -p[1])[:keep]]
            for c, _ in scored:
                if c not in go:
                    reached[c.expression] = min(reached[c.expression], r / n)
            live = go
        for c in members:
            cost += weight(c, reached[c.expression])
        finished |= {c.expression for c in live if c.final is not None}
        pending.append(seen)
    return cost, finished


def policies(cs: Sequence[Curve], n: int, rungs: Sequence[int], eta: int, min_seen: int, pack: int,
             workers: int, k: int, shuffles: int, weight: Callable[[Curve, float], float] = _fraction) -> dict:
    best = top(cs, k)
    full = sum(weight(c, c.diverged_at) for c in cs)
    out = {"full_fidelity_seed_equivalents": round(full, 1)}
    for policy in ("asha", "sync"):
        cost, fin = simulate(cs, n, rungs, eta, min_seen, pack, workers, policy, weight)
        costs, kept = [], []
        rng = random.Random(0)
        for _ in range(shuffles):
            order = list(cs)
            rng.shuffle(order)
            c2, f2 = simulate(order, n, rungs, eta, min_seen, pack, workers, policy, weight)
            costs.append(c2 / full)
            kept.append(len(best & f2))
        out[policy] = {"run_order": {"seed_equivalents": round(cost, 1), "fraction_of_full": round(cost / full, 3),
                                     f"top{k}_finish": len(best & fin)},
                       "shuffled": {"orders": shuffles, "fraction_of_full_median": round(statistics.median(costs), 3),
                                    f"top{k}_finish_median": statistics.median(kept),
                                    f"top{k}_finish_min": min(kept)}}
    return out


def main() -> None:
    ap = harness.parser(__doc__, "rungs", out=None)
    ap.add_argument("runs", nargs="+", type=Path, help="run directories trained with --set checkpoints=N")
    ap.add_argument("--eta", type=int, default=3, help="keep the best 1/eta at each rung")
    ap.add_argument("--rungs", default="1,3", help="checkpoint indices that are rungs (of N; 1,3 of 9 = 1/9, 1/3)")
    ap.add_argument("--min-seen", type=int, default=9, help="scores recorded at a rung before ASHA cuts there")
    ap.add_argument("--pack", type=int, default=8, help="candidates a pack trains together")
    ap.add_argument("--workers", type=int, default=2, help="packs in flight at once")
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--shuffles", type=int, default=200)
    args = ap.parse_args()
    rungs = [int(x) for x in args.rungs.split(",")]
    result = {"benchmark": "rungs", "eta": args.eta, "rungs": rungs, "min_seen": args.min_seen, "pack": args.pack,
              "workers": args.workers, "runs": {}}
    for run in args.runs:
        cs, n = curves(run)
        corr = correlations(cs, n, args.eta, args.top)
        pol = policies(cs, n, rungs, args.eta, args.min_seen, args.pack, args.workers, args.top, args.shuffles)
        finished = sum(c.final is not None for c in cs)
        print(f"{run}: {len(cs)} trained, {finished} finished, {n} checkpoints")
        print(f"  checkpoint  fraction  spearman  top-{args.top} kept by a 1/{args.eta} cut")
        for row in corr:
            print(f"  {row['checkpoint']:10d}  {row['fraction']:8.3f}  {row['spearman']:8.3f}  "
                  f"{row[f'top{args.top}_kept_by_best_1/{args.eta}']:5d}")
        print(f"  full fidelity: {pol['full_fidelity_seed_equivalents']} seed-equivalents")
        for policy in ("asha", "sync"):
            p = pol[policy]
            print(f"  {policy:5s} rungs {rungs}/{n}, eta {args.eta}: run order {p['run_order']['fraction_of_full']:.3f} of "
                  f"full, top {args.top} finishing {p['run_order'][f'top{args.top}_finish']}; shuffled median "
                  f"{p['shuffled']['fraction_of_full_median']:.3f}, top {args.top} finishing median "
                  f"{p['shuffled'][f'top{args.top}_finish_median']} (min {p['shuffled'][f'top{args.top}_finish_min']})")
        result["runs"][str(run)] = {"trained": len(cs), "finished": finished, "checkpoints": n,
                                    "correlations": corr, "policies": pol}
    if args.out:
        harness.save(args.out, result, args)


if __name__ == "__main__":
    main()
