"""Where given functions rank inside a score table: the x-gated table's top 10 and the Swish
paper's eight functions inside the paper-1 table, by default.

    python benchmarks/data/table_ranks.py [--table benchmarks/data/paper-1-mnist1d.csv]
        [--space paper-1] [--top-of benchmarks/data/x-gated-mnist1d.csv --top 10]

A function is looked up by its fingerprint (``actsearch.parse(expression, **params).fingerprint``,
the table's own key), so another spelling of the same function is found. Its rank is among the
table's ``ok`` rows by score (1 = best; tied scores share the best rank of the tie). A function
the space cannot build is reported as "not in the space"; one the space builds but the table has
not scored (a table still being made) as "not scored". Prints a table and saves JSON
(``benchmarks/results/paper1_ranks.json``).
"""

from __future__ import annotations

import argparse
import bisect
import csv
import json
from pathlib import Path

from actsearch.grammar import parse
from actsearch.search.space.dedup import distinct
from actsearch.search.space.files import load_space

ROOT = Path(__file__).resolve().parent

# Ramachandran, Zoph & Le (2017), Figure 3: the eight novel functions it reports, as written there
# (beta: a learnable constant, here at its initial value 1).
PAPER_EIGHT = [
    ("x * sigmoid(beta * x)", {"beta": 1.0}),
    ("max(x, sigmoid(x))", {}),
    ("cos(x) - x", {}),
    ("min(x, sin(x))", {}),
    ("atan(x)^2 - x", {}),
    ("max(x, tanh(x))", {}),
    ("sinc(x) + x", {}),
    ("x * asinh(x)^2", {}),
]


def read(path: Path) -> list[dict]:
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        r["params"] = json.loads(r["params"] or "{}")
        r["score"] = float(r["score"])
        r["fingerprint"] = r.get("fingerprint") or parse(r["expression"], **r["params"]).fingerprint
    return rows


def ranks(table: list[dict], space_fps: set[str], functions: list[tuple[str, dict]]) -> list[dict]:
    ok = sorted((r["score"] for r in table if r["status"] == "ok"), reverse=True)
    neg = [-s for s in ok]  # ascending, for bisect: rank = 1 + number of strictly better scores
    by_fp = {r["fingerprint"]: r for r in table}
    out = []
    for expr, params in functions:
        fp = parse(expr, **params).fingerprint
        row = by_fp.get(fp)
        entry = {"function": expr, "params": params, "fingerprint": fp, "n_ok": len(ok)}
        if row is None:
            entry["where"] = "not scored" if fp in space_fps else "not in the space"
        elif row["status"] != "ok":
            entry.update(where=row["status"], as_in_table=row["expression"])
        else:
            rank = bisect.bisect_left(neg, -row["score"]) + 1
            entry.update(where="ranked", rank=rank, percentile=round(100 * rank / len(ok), 1), score=row["score"],
                         as_in_table=row["expression"])
        out.append(entry)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", default=str(ROOT / "paper-1-mnist1d.csv"))
    ap.add_argument("--space", default="paper-1")
    ap.add_argument("--top-of", default=str(ROOT / "x-gated-mnist1d.csv"), help="a table whose best rows to look up")
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--out", default=str(ROOT.parent / "results" / "paper1_ranks.json"))
    args = ap.parse_args()

    table = read(Path(args.table))
    space_fps = {fp for *_, fp in distinct(load_space(args.space))}
    other = sorted((r for r in read(Path(args.top_of)) if r["status"] == "ok"), key=lambda r: -r["score"])
    groups = {f"top {args.top} of {Path(args.top_of).name}": [(r["expression"], r["params"]) for r in other[:args.top]],
              "the paper's eight": PAPER_EIGHT}
    n_ok = sum(r["status"] == "ok" for r in table)
    print(f"{Path(args.table).name}: {len(table)} rows, {n_ok} ok, of {len(space_fps)} distinct in {args.space}")
    result = {"table": args.table, "space": args.space, "rows": len(table), "ok": n_ok,
              "distinct": len(space_fps), "groups": {}}
    for label, functions in groups.items():
        found = ranks(table, space_fps, functions)
        result["groups"][label] = found
        print(f"\n{label}:")
        for e in found:
            where = f"rank {e['rank']:5d} ({e['percentile']:5.1f} %)  {e['score']:.4f}" if e["where"] == "ranked" \
                else e["where"]
            print(f"  {e['function']:40s} {where}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nsaved {args.out}")


if __name__ == "__main__":
    main()
