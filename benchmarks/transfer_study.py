"""The transfer study: how the x-gated functions rank on each child architecture.

    nice -n 10 python benchmarks/transfer_study.py --measure   # the baselines' seed-0 rows (resumable)
    python benchmarks/transfer_study.py                          # the matrix and the ranks

Inputs are the one-seed replay tables of the ``x-gated`` space in ``benchmarks/data/``
(``x-gated-TASK.csv``, one per architecture in :data:`ARCHITECTURES`, each made as that folder's
README says) and, for the library functions that are not in the space (gelu, mish, elu, the
AlphaEvolve finds …), their seed-0 scores on every architecture, measured with ``actsearch
baselines --task TASK --seeds 1 --json`` and kept in ``benchmarks/data/transfer-baselines.json``
(``--measure`` fills in the tasks it lacks). It prints and saves
``benchmarks/results/transfer.json``:

Rows are restricted to the space's 320 distinct trainable functions.

- ``spearman``: Spearman's ρ between every two architectures over the functions both tables hold
  (trivial candidates, which never train, left out; a failed training counts as score 0 — the
  table convention — so failures tie at the bottom), with the number of functions;
- ``ranks``: per function of :data:`WATCH` (relu, swish, gelu, the library baselines and the
  rediscover top 10) and architecture, its rank among the table's trained functions: 1 + the number
  of functions scoring strictly higher, out of ``n`` — so a baseline outside the space ranks where
  it would fall inside the table. A library function takes its measured seed-0 score (same seed,
  same training as the table; its own initial constants, e.g. PReLU's 0.25, where the table's row
  of the same fingerprint starts from 1), a rediscover function its table row.

Scores are one seed each: differences below ~0.01 (about one ReLU seed spread) are noise.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import harness
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "data"
ARCHITECTURES = ("mnist1d", "mnist1d-shallow", "mnist1d-cnn", "mnist1d-resnet-ln", "mnist1d-vit", "ood-regression")
SPACE = "x-gated"
BASELINES_FILE = DATA / "transfer-baselines.json"
OUT = ROOT / "results" / "transfer.json"
# The rediscover pipeline's top 10 on the deep MLP (README "Rediscovering Swish"), as published.
REDISCOVER_TOP10 = ("min(x, asinh(x))", "max(x, asinh(x))", "min(x, atan(x))", "beta * x + (1 - beta) * (x^2)",
                    "min(x, sqrt(abs(x) + 1e-12))", "max(x, atan(x))", "sigmoid(asinh(x)) * x", "sigmoid(-x) * x",
                    "x * sigmoid(x)", "sigmoid(x) * (-x)")
LIBRARY = ("relu", "swish", "gelu", "silu", "mish", "elu", "selu", "smelu", "helu", "prelu", "tanh", "gelu-sine",
           "gelu-sinc")


def table_path(arch: str) -> Path:
    return DATA / f"x-gated-{arch}.csv"


def load_table(path: Path) -> dict[str, tuple[str, float]]:
    """fingerprint -> (status, score) of the trained rows (trivial ``invalid`` rows left out)."""
    out = {}
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row["status"] == "invalid":
                continue
            out[row["fingerprint"]] = (row["status"], float(row["score"]) if row["status"] == "ok" else 0.0)
    return out


def measure(archs: list[str]) -> dict:
    """Seed-0 scores of the library baselines on every architecture still missing from the file."""
    done = json.loads(BASELINES_FILE.read_text()) if BASELINES_FILE.is_file() else {}
    for arch in archs:
        if arch in done:
            continue
        print(f"baselines on {arch} ...", file=sys.stderr, flush=True)
        out = subprocess.run([sys.executable, "-c", "from actsearch.cli import main; main()", "baselines", "--task", arch, "--seeds", "1",
                              "--json"], check=True, capture_output=True, text=True).stdout
        rows = json.loads(out)["baselines"]
        done[arch] = {r["name"]: {"status": r["status"], "score": r["score"], "wall_s": round(r["wall_s"], 2)}
                      for r in rows}
        BASELINES_FILE.write_text(json.dumps(done, indent=1) + "\n")  # one architecture at a time: resumable
    return done


def rank(score: float, table: dict[str, tuple[str, float]]) -> int:
    return 1 + sum(s > score for _, s in table.values())


def _fingerprint(name: str) -> str | None:
    """A library function's fingerprint; None for a module-only one (smelu, helu), never in a table."""
    from actsearch.grammar.library import LibraryError, resolve

    try:
        return resolve(name).fingerprint
    except LibraryError:
        return None


def study(archs: list[str], baselines: dict) -> dict:
    from actsearch.grammar import parse
    from actsearch.search.space.dedup import distinct
    from actsearch.search.space.files import load_space

    space = {fp for *_, fp in distinct(load_space(SPACE))}  # rows of an earlier space's run are left out
    tables = {a: {fp: v for fp, v in load_table(table_path(a)).items() if fp in space} for a in archs}
    matrix: dict[str, dict[str, dict]] = {}
    for a in archs:
        matrix[a] = {}
        for b in archs:
            common = sorted(set(tables[a]) & set(tables[b]))
            rho = spearmanr([tables[a][f][1] for f in common], [tables[b][f][1] for f in common]).statistic
            matrix[a][b] = {"rho": round(float(rho), 3), "n": len(common)}
    watch = [(name, _fingerprint(name), "library") for name in LIBRARY]
    watch += [(text, parse(text).fingerprint, "rediscover top 10") for text in REDISCOVER_TOP10]
    ranks = []
    for name, fp, group in watch:
        row = {"function": name, "group": group, "per_architecture": {}}
        for a in archs:
            table = tables[a]
            got = None
            if name in baselines.get(a, {}):  # the library function as published (its own constants)
                b = baselines[a][name]
                got = {"status": b["status"], "score": b["score"] if b["status"] == "ok" else 0.0,
                       "source": "baselines"}
            elif fp in table:
                status, score = table[fp]
                got = {"status": status, "score": score, "source": "table"}
            if got is not None:
                got.update(rank=rank(got["score"], table) if got["status"] == "ok" else None, n=len(table))
            row["per_architecture"][a] = got
        ranks.append(row)
    return {"architectures": archs, "tables": {a: str(table_path(a).relative_to(ROOT.parent)) for a in archs},
            "spearman": matrix, "ranks": ranks}


def markdown(result: dict) -> str:
    archs = result["architectures"]
    lines = ["| ρ | " + " | ".join(archs) + " |", "|---" * (len(archs) + 1) + "|"]
    for a in archs:
        lines.append(f"| {a} | " + " | ".join(f"{result['spearman'][a][b]['rho']:.2f}" for b in archs) + " |")
    lines += ["", "| function | " + " | ".join(archs) + " |", "|---" * (len(archs) + 1) + "|"]
    for row in result["ranks"]:
        cells = []
        for a in archs:
            got = row["per_architecture"][a]
            if got is None:
                cells.append("–")
            elif got["rank"] is None:
                cells.append(got["status"])
            else:
                cells.append(f"{got['rank']}/{got['n']} ({got['score']:.3f})")
        lines.append(f"| {row['function']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = harness.parser(__doc__, "transfer", out=OUT)
    ap.add_argument("--measure", action="store_true", help="measure the baselines' seed-0 rows still missing")
    ap.add_argument("--arch", action="append", help="only these architectures (repeatable; default: every table)")
    args = ap.parse_args(argv)
    archs = args.arch or [a for a in ARCHITECTURES if table_path(a).is_file()]
    missing = [a for a in archs if not table_path(a).is_file()]
    if missing:
        print(f"no table for {', '.join(missing)} (expected {table_path(missing[0])})", file=sys.stderr)
        return 2
    baselines = measure(archs) if args.measure else (
        json.loads(BASELINES_FILE.read_text()) if BASELINES_FILE.is_file() else {})
    result = study(archs, baselines)
    harness.save(args.out, result, args, indent=1, quiet=True)
    print(markdown(result))
    print(f"-> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
