"""Score every distinct candidate of a space on a task, writing a replay table row by row.

    nice -n 10 python benchmarks/data/make_table.py --space x-gated --task mnist1d \
        --out benchmarks/data/x-gated-mnist1d.csv

Runs the exhaustive searcher through the plain in-process driver with one seed per candidate
(``actsearch.evaluators.evaluate``) and appends one CSV row per trial (expression, params,
fingerprint, status, score, wall_s), flushing each, so an interrupted run loses nothing; run it
again and it continues where it stopped (fingerprints already in the file are skipped). Trivial
candidates, which never train, are written with status ``invalid``.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

from actsearch.search.driver import run_search

from actsearch.evaluators import get_task
from actsearch.search.searchers import make_searcher
from actsearch.search.space.core import load_space

FIELDS = ["expression", "params", "fingerprint", "status", "score", "wall_s"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default="x-gated")
    ap.add_argument("--task", default="mnist1d")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="benchmarks/data/x-gated-mnist1d.csv")
    args = ap.parse_args()

    out = Path(args.out)
    done = set()
    if out.is_file():
        with out.open(newline="") as fh:
            done = {row["fingerprint"] for row in csv.DictReader(fh)}
    searcher = make_searcher("exhaustive", load_space(args.space))
    for fp in done:  # already scored: the exhaustive walk treats them as seen
        searcher.dedup.claim(fp, "scored earlier")
    fresh = not out.is_file()
    fh = out.open("a", newline="")
    writer = csv.DictWriter(fh, fieldnames=FIELDS)
    if fresh:
        writer.writeheader()
    start = time.perf_counter()

    def write(row: dict) -> None:
        writer.writerow({k: row[k] for k in FIELDS})
        fh.flush()

    def on_result(trial) -> None:  # noqa: ANN001
        p, r = trial.proposal, trial.result
        write({"expression": p.expression, "params": json.dumps(p.params), "fingerprint": p.fingerprint,
               "status": r.status, "score": round(r.score, 6), "wall_s": round(r.wall_s, 3)})
        print(f"{time.perf_counter() - start:7.0f}s {p.trial_id} {r.status:8s} {r.score:.4f} {p.expression}", flush=True)

    def on_skipped(rec: dict) -> None:
        if rec["status"] == "invalid" and rec["fingerprint"] not in done:
            done.add(rec["fingerprint"])
            write({**rec, "params": json.dumps(rec["params"]), "score": 0.0, "wall_s": 0.0})

    trials = run_search(searcher, get_task(args.task), seeds=(args.seed,), on_result=on_result, on_skipped=on_skipped,
                        prescreen=False)  # a score table holds every candidate's real outcome
    fh.close()
    print(f"scored {len(trials)} new candidates in {time.perf_counter() - start:.0f} s -> {out}")


if __name__ == "__main__":
    main()
