"""Write a search's run store as a replay table (the format of this folder's README).

    python benchmarks/data/table_from_run.py RUN_DIR --out benchmarks/data/NAME.csv

One row per distinct function the search stored (its first text; aliases are not rows): trained
ones with their status, score (the mean over the row's seeds; 0 unless ok) and wall time,
trivial ones (never trained) as ``invalid``. References and pending trials are left out, so a
table of a run still in progress holds exactly what it has finished, in the order it finished.
The store is opened read-only: this can run while the search goes on.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from actsearch.results.store import SqliteStore

FIELDS = ["expression", "params", "fingerprint", "status", "score", "wall_s"]


def rows(run_dir: Path) -> list[dict]:
    with SqliteStore(run_dir, readonly=True) as store:
        records = store.candidates(role="search", include_aliases=False)
    out = []
    for r in sorted(records, key=lambda r: r.id):
        out.append({"expression": r.expression, "params": json.dumps(r.params), "fingerprint": r.fingerprint,
                    "status": r.status, "score": round(r.score, 6) if r.ok else 0.0,
                    "wall_s": round(r.wall_s or 0.0, 3)})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    table = rows(args.run_dir)
    tmp = args.out.with_suffix(".tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(table)
    tmp.replace(args.out)  # a reader never sees half a table
    counts: dict[str, int] = {}
    for row in table:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    print(f"{len(table)} rows ({', '.join(f'{n} {s}' for s, n in sorted(counts.items()))}) -> {args.out}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
