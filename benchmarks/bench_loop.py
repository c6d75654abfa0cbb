"""The loop's own cost per trial, and whether it stays flat as a run grows.

A ``table:`` replay of ``--trials`` (2,000) trials: the table is generated here — every distinct
function of the ``paper-1`` space (``--space``), each scored by a cheap deterministic function of
its fingerprint (a hash) — and the ``random`` searcher (uniform draws: the same mix of new
functions, aliases and trivial ones early and late, so that a trend is the loop's, not the
workload's) runs through :class:`~actsearch.search.loop.study.Study` with the in-process
executor, once on the in-memory store and once on the SQLite store of a run directory (aliases and
trivial candidates are stored as they come, as in a real run). A short replay first warms the
process's caches (torch, the grammar), so that neither measured run pays for them. Each trial's wall time is taken between two
consecutive stored outcomes, so it holds everything the loop does per trial: asking, classifying
(parsing and fingerprinting, uncached), the store writes, the table lookup and the searcher's
tell. Printed and saved (``benchmarks/results/bench_loop.json``): mean time per trial over the
first and the last 200 trials and their ratio (goal ≤ 1.2: flat), and the loop's overhead as a
fraction of a 1-second trial. Run on a shared machine: read the ratios, not the absolute times.

    python benchmarks/bench_loop.py [--trials 2000] [--space paper-1]
"""

from __future__ import annotations

import csv
import hashlib
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import harness

import actsearch
from actsearch.search.space import load_space
from actsearch.search.space.dedup import _analyse, distinct

WINDOW = 200


def score_of(fingerprint: str) -> float:
    return int(hashlib.sha256(fingerprint.encode()).hexdigest()[:8], 16) / 2**32


def write_table(path: Path, space_name: str, n: int) -> int:
    rows = []
    for _, text, params, fp in distinct(load_space(space_name)):
        rows.append({"expression": text, "params": json.dumps(params), "fingerprint": fp, "status": "ok",
                     "score": score_of(fp), "wall_s": 1.0})
        if len(rows) >= n:
            break
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def replay(table: Path, space: str, trials: int, run_dir: Path | None) -> dict:
    _analyse.cache_clear()  # the loop parses every proposal, as in a fresh process
    stamps: list[float] = []

    def on_event(event) -> None:
        if event.role == "search" and not event.prescreen:
            stamps.append(time.perf_counter())

    start = time.perf_counter()
    run = actsearch.run_search(space=space, searcher="random", task=f"table:{table}", budget=trials,
                               references=(), run_dir=run_dir, executor="inprocess", on_event=on_event)
    wall = time.perf_counter() - start
    records = run.records()
    run.close()
    per_trial = [b - a for a, b in zip([start, *stamps[:-1]], stamps, strict=True)]
    first, last = statistics.mean(per_trial[:WINDOW]), statistics.mean(per_trial[-WINDOW:])
    return {"store": "memory" if run_dir is None else "sqlite", "trials": len(stamps),
            "rows_stored": len(records), "wall_s": round(wall, 3),
            "first_200_ms_per_trial": round(1e3 * first, 3), "last_200_ms_per_trial": round(1e3 * last, 3),
            "ratio_last_to_first": round(last / first, 3),
            "mean_ms_per_trial": round(1e3 * statistics.mean(per_trial), 3),
            "overhead_vs_1s_trial": round(statistics.mean(per_trial) / 1.0, 5)}


def main() -> None:
    ap = harness.parser(__doc__, "bench_loop")
    ap.add_argument("--trials", type=int, default=2000)
    ap.add_argument("--space", default="paper-1")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        table = Path(tmp) / "table.csv"
        t0 = time.perf_counter()
        rows = write_table(table, args.space, 10**9)
        made = time.perf_counter() - t0
        replay(table, args.space, WINDOW, None)  # warm-up, not reported
        results = [replay(table, args.space, args.trials, None), replay(table, args.space, args.trials, Path(tmp) / "run")]
    out = {"benchmark": "bench_loop", "space": args.space, "searcher": "random", "table_rows": rows,
           "table_seconds": round(made, 1), "window": WINDOW, "machine": f"{platform.machine()}, shared 2-core",
           "command": f"python benchmarks/bench_loop.py --trials {args.trials} --space {args.space}",
           "results": results}
    for r in results:
        print(f"{r['store']:>6}: {r['trials']} trials ({r['rows_stored']} rows) in {r['wall_s']:.1f} s; "
              f"first {WINDOW} {r['first_200_ms_per_trial']:.2f} ms/trial, last {WINDOW} "
              f"{r['last_200_ms_per_trial']:.2f} ms/trial (ratio {r['ratio_last_to_first']:.2f}); "
              f"overhead {100 * r['overhead_vs_1s_trial']:.2f} % of a 1-second trial")
    harness.save(args.out, out, args)


if __name__ == "__main__":
    main()
