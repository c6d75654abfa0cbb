"""What a search under halving trained, and what it kept, against a complete one-seed table of the
same space and task (every function trained in full, seed 0).

    actsearch search --space paper-1 --searcher exhaustive -O order=shuffled --task mnist1d \\
        --budget 1000 --no-prescreen --references "" --workers 2 --run-dir runs/paper1-halving
    python benchmarks/bench_halving_run.py runs/paper1-halving --table benchmarks/data/paper-1-mnist1d.csv

Reads the run's trained search rows (one seed each) and reports:

- the training it did, in seed-equivalents (steps trained / steps of one full seed, summed): a
  stopped candidate counts the step its rung fell on, a diverged one the checkpoints it reached;
  as a fraction of training the same candidates in full (what ``--scheduler fifo`` trains);
- the table's top (its best ``--top`` fraction of the ``ok`` rows of the whole space; top 1 %:
  best 30 of paper-1) among the candidates the run trained: how many finished (were not stopped),
  and the run's top-k of its finishers against the table's top-k of the same candidates;
- that a finisher scores as in the table (the largest difference; the same seed, so equal up to
  float reassociation in a pack).

Machine-independent: it counts steps, not seconds. Beside it, the run's active wall time: the sum
of the gaps between consecutive stored rows (``created_at``), leaving out gaps over ``--gap`` seconds
(the run was stopped there and resumed later), with the number of such stops — seconds of whatever
machine and load the run had (say which); and the trial seconds (each stored row's ``wall_s``, its
share of its pack's time) of the candidates both hold, the run's against the table's rows — the
time halving saved, fixed costs of a trial included, where the steps count only the training.
"""

from __future__ import annotations

import csv
import math
import statistics
import sys
from datetime import datetime
from itertools import pairwise
from pathlib import Path

import harness

sys.path.insert(0, str(harness.REPO))

from actsearch.results.records import Role  # noqa: E402
from actsearch.results.store import open_store  # noqa: E402


def table(path: Path) -> dict[str, float | None]:
    """fingerprint -> the table's score (None: not ok)."""
    with open(path, newline="") as f:
        return {r["fingerprint"]: float(r["score"]) if r["status"] == "ok" else None for r in csv.DictReader(f)}


def table_seconds(path: Path) -> dict[str, float]:
    """fingerprint -> the seconds the table's row took (its ``wall_s``: one seed in full)."""
    with open(path, newline="") as f:
        return {r["fingerprint"]: float(r["wall_s"] or 0.0) for r in csv.DictReader(f)}


def trained(run_dir: Path) -> tuple[list[dict], int]:
    """The run's trained search rows: fingerprint, status, score, steps reached; and the full steps."""
    store = open_store(run_dir, readonly=True)
    try:
        rows, full = [], 0
        for r in store.candidates(include_pending=False):
            if r.role != Role.SEARCH or r.alias_of is not None or not r.runs or r.status == "invalid":
                continue
            m = r.runs[0].get("metrics", {}) or {}
            rows.append({"fingerprint": r.fingerprint, "expression": r.expression, "status": str(r.status),
                         "score": r.score, "steps": m.get("steps"), "checkpoints": len(m.get("checkpoints") or []),
                         "wall_s": float(r.wall_s or 0.0)})
            if str(r.status) == "ok" and m.get("steps"):
                full = max(full, int(m["steps"]))
        return rows, full
    finally:
        store.close()


def active_wall(run_dir: Path, gap_s: float) -> tuple[float, int]:
    """Seconds between the run's stored rows, gaps over ``gap_s`` left out, and how many those were."""
    store = open_store(run_dir, readonly=True)
    try:
        times = sorted(datetime.fromisoformat(r.created_at).timestamp()
                       for r in store.candidates(include_pending=False) if r.created_at)
    finally:
        store.close()
    gaps = [b - a for a, b in pairwise(times)]
    return sum(g for g in gaps if g <= gap_s), sum(1 for g in gaps if g > gap_s)


def measure(run_dir: Path, table_path: Path, top_fraction: float, gap_s: float = 600.0) -> dict:
    scores = table(table_path)
    rows, full = trained(run_dir)
    if not full:
        raise SystemExit(f"{run_dir}: no finished candidate yet")
    checkpoints = max((r["checkpoints"] for r in rows if r["status"] == "ok"), default=1) or 1
    spent = 0.0
    for r in rows:
        if r["status"] in ("ok", "stopped") and r["steps"]:
            spent += r["steps"] / full
        else:  # diverged or failed: the checkpoints it reached
            spent += r["checkpoints"] / checkpoints
    full_cost = sum(1.0 if r["status"] in ("ok", "stopped") else r["checkpoints"] / checkpoints for r in rows)
    ok_table = sorted((s for s in scores.values() if s is not None), reverse=True)
    k_all = max(1, math.ceil(top_fraction * len(ok_table)))  # as bench_searchers counts a top fraction
    cut = ok_table[k_all - 1]
    mine = {r["fingerprint"]: r for r in rows}
    in_run = [fp for fp, s in scores.items() if s is not None and s >= cut and fp in mine]
    finished = [fp for fp in in_run if mine[fp]["status"] == "ok"]
    # the same candidates ranked two ways: the run's (finishers by score, stopped below) and the table's
    run_order = sorted(mine, key=lambda fp: (mine[fp]["status"] != "ok", -(mine[fp]["score"] or -math.inf)))
    table_order = sorted((fp for fp in mine if scores.get(fp) is not None), key=lambda fp: -scores[fp])
    k = max(1, math.ceil(top_fraction * len(table_order)))
    diffs = [abs(mine[fp]["score"] - scores[fp]) for fp in mine
             if mine[fp]["status"] == "ok" and scores.get(fp) is not None]
    status = {s: sum(1 for r in rows if r["status"] == s) for s in sorted({r["status"] for r in rows})}
    wall, stops = active_wall(run_dir, gap_s)
    seconds = table_seconds(table_path)
    timed = [r for r in rows if r["fingerprint"] in seconds]
    run_s, table_s = sum(r["wall_s"] for r in timed), sum(seconds[r["fingerprint"]] for r in timed)
    return {
        "run_dir": str(run_dir), "table": str(table_path), "trained": len(rows), "status": status,
        "full_steps": full, "seed_equivalents": round(spent, 2), "full_fidelity_seed_equivalents": round(full_cost, 2),
        "fraction_of_full": round(spent / full_cost, 4) if full_cost else None,
        "table_top": {"fraction": top_fraction, "of_space": k_all, "score_at_least": cut,
                      "among_trained": len(in_run), "finished": len(finished),
                      "stopped": [mine[fp]["expression"] for fp in in_run if mine[fp]["status"] != "ok"]},
        "top_k_of_trained": {"k": k, "run_top_k_in_table_top_k": len(set(run_order[:k]) & set(table_order[:k]))},
        "finisher_score_max_abs_diff_vs_table": max(diffs) if diffs else None,
        "finisher_score_median_abs_diff_vs_table": statistics.median(diffs) if diffs else None,
        "finishers_compared": len(diffs),
        "active_wall_s": round(wall, 1), "stops_over_gap": stops, "gap_s": gap_s,
        "trial_seconds": {"run": round(run_s, 1), "table": round(table_s, 1), "candidates": len(timed),
                          "ratio": round(run_s / table_s, 4) if table_s else None},
    }


def main() -> None:
    ap = harness.parser(__doc__, "halving_run")
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--table", type=Path, default=harness.REPO / "benchmarks/data/paper-1-mnist1d.csv")
    ap.add_argument("--top", type=float, default=0.01, help="the table's top fraction (default 0.01)")
    ap.add_argument("--gap", type=float, default=600.0, help="a longer gap between rows is a stop (seconds)")
    args = ap.parse_args()
    out = measure(args.run_dir, args.table, args.top, args.gap)
    t, kk = out["table_top"], out["top_k_of_trained"]
    print(f"{out['trained']} trained {out['status']}: {out['seed_equivalents']} seed-equivalents, "
          f"{out['fraction_of_full']} of training them in full")
    print(f"the table's top {t['fraction']:.0%} ({t['of_space']} of the space, score >= {t['score_at_least']}): "
          f"{t['among_trained']} trained here, {t['finished']} finished; stopped: {t['stopped']}")
    print(f"top {kk['k']} of the trained: {kk['run_top_k_in_table_top_k']} of the run's in the table's; finishers "
          f"differ from the table by at most {out['finisher_score_max_abs_diff_vs_table']} (median "
          f"{out['finisher_score_median_abs_diff_vs_table']}) "
          f"({out['finishers_compared']} compared)")
    print(f"active wall time {out['active_wall_s']} s ({out['stops_over_gap']} stops of over {args.gap:.0f} s left out)")
    ts = out["trial_seconds"]
    print(f"trial seconds (each row's wall_s) on the {ts['candidates']} candidates both hold: run {ts['run']} s, "
          f"table {ts['table']} s: {ts['ratio']} of the table's")
    harness.save(args.out, out, args)


if __name__ == "__main__":
    main()
