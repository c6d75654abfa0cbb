"""Score every distinct candidate of a space on a task, writing a replay table row by row.

    nice -n 10 python benchmarks/data/make_table.py --space x-gated --task mnist1d \
        --out benchmarks/data/x-gated-mnist1d.csv

Runs the exhaustive searcher through the plain in-process driver with one seed per candidate
(``actsearch.evaluators.evaluate``) and appends one CSV row per trial (expression, params,
fingerprint, status, score, wall_s), flushing each, so an interrupted run loses nothing; run it
again and it continues where it stopped (fingerprints already in the file are skipped) — on this
machine or another, since the file is the only state. Trivial candidates, which never train, are
written with status ``invalid``.

``--order shuffled`` walks the space in the exhaustive searcher's shuffled order (seed 0), so a
table stopped early is a uniform sample of the space. ``--shard K/N`` trains only the functions
whose fingerprint falls in shard K of N (by its hash): N processes started at once with
K = 0 … N − 1 and the same ``--out`` share the work, one core each, appending to the one file
(each row is one ``write`` to a file opened for appending, so rows never interleave).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import time
from pathlib import Path

from actsearch.evaluators import get_task
from actsearch.evaluators.result import CandidateResult
from actsearch.results.memory import MemoryStore
from actsearch.search.loop.replay import replay
from actsearch.search.searchers import make_searcher
from actsearch.search.space.dedup import distinct
from actsearch.search.space.files import load_space

FIELDS = ["expression", "params", "fingerprint", "status", "score", "wall_s"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default="x-gated")
    ap.add_argument("--task", default="mnist1d")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="benchmarks/data/x-gated-mnist1d.csv")
    ap.add_argument("--order", default="enumeration", choices=("enumeration", "shuffled"))
    ap.add_argument("--shard", default="0/1", help="K/N: train only shard K of N (by fingerprint)")
    ap.add_argument("--pack", type=int, default=1,
                    help="candidates trained together as one stacked network (one seed each; the same "
                         "training per candidate as alone, up to float reassociation)")
    args = ap.parse_args()
    shard, shards = (int(v) for v in args.shard.split("/"))
    if not 0 <= shard < shards:
        ap.error(f"--shard K/N needs 0 <= K < N, got {args.shard}")

    out = Path(args.out)
    done = set()
    if out.is_file():
        with out.open(newline="") as fh:
            done = {row["fingerprint"] for row in csv.DictReader(fh)}
    get_task(args.task)  # a bad name fails before anything is written
    task = args.task  # by name, so the loop's rows are the store's rows of this task
    store = MemoryStore()  # rows already in the file: the loop treats them as stored and skips them
    for fp in done:
        store.record("x", fp, CandidateResult(status="invalid", score=0.0, score_std=0.0, error="scored earlier"),
                     task=task)
    space = load_space(args.space)
    if shards > 1:  # the other shards' fingerprints count as stored here: the loop skips them
        for *_, fp in distinct(space):
            if fp not in done and int(hashlib.sha256(fp.encode()).hexdigest(), 16) % shards != shard:
                store.record("x", fp, CandidateResult(status="invalid", score=0.0, score_std=0.0,
                                                      error="another shard"), task=task)
                done.add(fp)
    searcher = make_searcher("exhaustive", space, order=args.order)
    try:  # exclusive create: of shards started at once, one writes the header and none truncates
        with out.open("x", newline="") as fh:
            csv.DictWriter(fh, fieldnames=FIELDS).writeheader()
    except FileExistsError:
        pass
    fh = out.open("a", newline="", buffering=1 << 16)
    writer = csv.DictWriter(fh, fieldnames=FIELDS)
    start = time.perf_counter()

    def stop(trial) -> bool:  # noqa: ANN001 - every trial is written as soon as it is scored
        c, r = trial.config, trial.result
        writer.writerow({"expression": c.expression, "params": json.dumps(c.params), "fingerprint": c.fingerprint,
                         "status": r.status, "score": round(r.score, 6), "wall_s": round(r.wall_s, 3)})
        fh.flush()
        print(f"{time.perf_counter() - start:7.0f}s {r.status:8s} {r.score:.4f} {c.expression}", flush=True)
        return False

    trials = replay(searcher, task, seeds=(args.seed,), stop=stop, store=store, pack=args.pack)  # no pre-screen: a table
    for rec in store.candidates(task=task) if shard == 0 else ():  # trivial ones (shard 0 writes them)
        if rec.status == "invalid" and rec.trial is None and rec.alias_of is None and rec.fingerprint not in done:
            writer.writerow({"expression": rec.expression, "params": json.dumps(rec.params),
                             "fingerprint": rec.fingerprint, "status": "invalid", "score": 0.0, "wall_s": 0.0})
    fh.close()
    print(f"scored {len(trials)} new candidates in {time.perf_counter() - start:.0f} s -> {out}")


if __name__ == "__main__":
    main()
