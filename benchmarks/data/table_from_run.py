"""Write a search's run store as a replay table (the format of this folder's README).

    python benchmarks/data/table_from_run.py RUN_DIR --out benchmarks/data/NAME.csv
    python benchmarks/data/table_from_run.py RUN_DIR --member mnist1d-cnn --out benchmarks/data/NAME.csv

One row per distinct function the search stored (its first text; aliases are not rows): trained
ones with their status, score (the mean over the row's seeds; 0 unless ok) and wall time,
trivial ones (never trained) as ``invalid``. References, pending trials and candidates the
pre-screen rejected untrained are left out, so a table of a run still in progress holds exactly
what it has finished, in the order it finished. The store is opened read-only: this can run while
the search goes on.

``--member NAME`` reads one member of a ``panel:`` run instead: seed 0's score on that member
(``panel.score/NAME``, once ``panel.z/NAME`` says it finished), or the member's own failure status when the seed failed there. A function
whose seed 0 stopped at an earlier member never reached this one and is left out, so that
``make_table.py --out`` on the same file trains exactly those (it skips fingerprints already in
the file). A member's wall time is not stored separately; such rows carry 0.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from actsearch.evaluators.result import OK, PANEL_SCORE, PANEL_Z
from actsearch.results.store import SqliteStore

FIELDS = ["expression", "params", "fingerprint", "status", "score", "wall_s"]


def _member_row(record, member: str) -> tuple[str, float] | None:
    """(status, score) of seed 0 on ``member``; None when seed 0 never reached it."""
    runs = [r for r in record.runs if r.get("seed") == 0] or record.runs[:1]
    if not runs:
        return None
    run = runs[0]
    metrics = run.get("metrics") or {}
    if run.get("status") != OK and str(run.get("error") or "").startswith(f"{member}: "):
        return str(run["status"]), 0.0  # the seed failed on this member
    if PANEL_Z + member in metrics:  # set only once the member finished ok
        return OK, float(metrics[PANEL_SCORE + member])
    return None


def rows(run_dir: Path, member: str | None = None) -> list[dict]:
    with SqliteStore(run_dir, readonly=True) as store:
        records = store.candidates(role="search", include_aliases=False)
    out = []
    for r in sorted(records, key=lambda r: r.id):
        if r.state != "done" or str(r.error or "").startswith("pre-screen"):
            continue
        status, score, wall = r.status, (round(r.score, 6) if r.ok else 0.0), round(r.wall_s or 0.0, 3)
        if member is not None and r.runs:
            got = _member_row(r, member)
            if got is None:
                continue
            status, score, wall = got[0], round(got[1], 6), 0.0
        out.append({"expression": r.expression, "params": json.dumps(r.params), "fingerprint": r.fingerprint,
                    "status": status, "score": score, "wall_s": wall})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--member", default=None, help="one member task of a panel run")
    args = ap.parse_args(argv)
    table = rows(args.run_dir, args.member)
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
