"""Wall time of the ``rediscover`` preset, and whether it finds the README's top 10 again.

    nohup python benchmarks/bench_rediscover.py --machine "idle, 2 cores" > /tmp/bench_rediscover.log &

1. A reference, measured before and after the pipeline in this process on one torch thread:
   one seed of swish on the default task trained seed by seed (``batched=false``), and a pack of
   8 one-seed candidates trained as one stacked network (the unit the exhaustive phase trains).
   Machines of this project differ by up to 2× in these figures from day to day, so the wall time
   is also given in units of the sequential reference (``wall / reference``): comparable across
   machines where the wall clock is not.
2. ``actsearch search --preset rediscover`` into ``--run-dir`` (resumed when it exists: a killed
   benchmark continues where it stopped; its phase times then add up the parts that ran).
3. The new leaderboard against the README's top 10 (the table of the 27.4-minute run): the
   Spearman correlation of their README ranks with their new scores, how many of them are still in
   the new top 10, and the functions the new run ranks among its top 10 that the README's lacks.
4. With ``--against RUN_DIR`` (another finished rediscover run, e.g. one under ``--scheduler
   fifo``-equivalent full fidelity): the two top 10s (how many in common, the Spearman correlation
   of the common ones' scores) and the two verdicts (per reference, the candidates each run found
   better, worse or not clearly different, and whether the common candidates got the same word).

Saves ``benchmarks/results/rediscover.json``.
"""

from __future__ import annotations

import platform
import subprocess
import sys
import time
from pathlib import Path

import harness
import torch

from actsearch.results.store import open_store

ROOT = Path(__file__).resolve().parent
PACK8 = ("swish", "relu", "x * tanh(x)", "x + sin(x)", "gelu", "min(x, atan(x))", "x * erf(x)", "elu")
# The README's top 10 of the rediscover run (now docs/results.md, "Rediscovering Swish"), in its order.
README_TOP10 = (
    "min(x, asinh(x))", "max(x, asinh(x))", "min(x, atan(x))", "beta * x + (1 - beta) * (x^2)",
    "min(x, sqrt(abs(x) + 1e-12))", "max(x, atan(x))", "sigmoid(asinh(x)) * x", "sigmoid(-x) * x",
    "x * sigmoid(x)", "sigmoid(x) * (-x)",
)


def reference() -> dict:
    """Seconds (wall and CPU) of one sequential swish seed and of a pack of 8 one-seed candidates."""
    from actsearch.evaluators import evaluate
    from actsearch.evaluators.scoring import evaluate_pack

    torch.set_num_threads(1)
    out = {}
    for name, fn in (("sequential_seed", lambda: evaluate("swish", "mnist1d", [0], batched=False)),
                     ("pack8_one_seed", lambda: evaluate_pack(list(PACK8), "mnist1d", [0]))):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        out[name + "_s"] = time.perf_counter() - wall
        out[name + "_cpu_s"] = time.process_time() - cpu
    out["pack8_per_candidate_s"] = out["pack8_one_seed_s"] / len(PACK8)
    print(f"reference: sequential seed {out['sequential_seed_s']:.1f} s, pack of 8 "
          f"{out['pack8_one_seed_s']:.1f} s ({out['pack8_per_candidate_s']:.1f} s a candidate)", flush=True)
    return out


def finished_run(run_dir: Path) -> tuple[list[dict], dict]:
    """The run's whole leaderboard (one record per distinct function) and the preset's state."""
    import actsearch
    from actsearch.search.pipelines.phases import STATE

    with actsearch.open_run(run_dir) as run:
        rows = run.leaderboard().to_records()
    store = open_store(run_dir, readonly=True)
    try:
        return rows, store.load_state(STATE) or {}
    finally:
        store.close()


def compare(rows: list[dict]) -> dict:
    """The README's top 10 in the new ranking (search rows only; references are not ranked)."""
    from scipy.stats import spearmanr

    from actsearch.search.space.dedup import analyse

    search = [r for r in rows if r["role"] == "search" and r["status"] == "ok"]
    by_fp = {r["fingerprint"]: (i + 1, r) for i, r in enumerate(search)}
    found = []
    for rank, text in enumerate(README_TOP10, 1):
        fp = analyse(text)[0]
        new_rank, row = by_fp.get(fp, (None, None))
        found.append({"expression": text, "readme_rank": rank, "new_rank": new_rank,
                      "score": None if row is None else row["score"], "seeds": None if row is None else row["seeds"]})
    scored = [f for f in found if f["score"] is not None]
    rho = spearmanr([f["readme_rank"] for f in scored], [-f["score"] for f in scored])[0] if len(scored) > 2 else None
    readme_fps = {analyse(t)[0] for t in README_TOP10}
    new_top = [{"rank": i + 1, "expression": r["expression"], "score": r["score"], "seeds": r["seeds"],
                "searcher": r["searcher"]} for i, r in enumerate(search[:10])]
    return {"readme_top10": found, "spearman_readme_rank_vs_new_score": rho,
            "readme_top10_in_new_top10": sum(1 for r in search[:10] if r["fingerprint"] in readme_fps),
            "new_top10": new_top,
            "new_in_top10": [r["expression"] for r in search[:10] if r["fingerprint"] not in readme_fps]}


def against(rows: list[dict], other_dir: Path, run_dir: Path) -> dict:
    """This run's top 10 and verdict against another finished run's."""
    import json

    from scipy.stats import spearmanr

    other, _ = finished_run(other_dir)
    tops = [[r for r in rs if r["role"] == "search" and r["status"] == "ok"][:10] for rs in (rows, other)]
    mine, theirs = ({r["fingerprint"]: r for r in top} for top in tops)
    common = [fp for fp in theirs if fp in mine]
    rho = spearmanr([theirs[fp]["score"] for fp in common], [mine[fp]["score"] for fp in common])[0] \
        if len(common) > 2 else None

    def verdicts(path: Path) -> dict:
        doc = json.loads((path / "verdict.json").read_text()) if (path / "verdict.json").is_file() else {}
        return {(c["expression"], c["against"]): c["verdict"] for c in doc.get("comparisons", [])}

    a, b = verdicts(run_dir), verdicts(other_dir)
    shared = sorted(set(a) & set(b))
    by_reference = {}
    for ref in sorted({k[1] for k in (*a, *b)}):
        by_reference[ref] = {name: {word: sorted(e for (e, r), v in vs.items() if r == ref and v == word)
                                    for word in ("better", "worse", "no clear difference")}
                             for name, vs in (("this", a), ("against", b))}
    return {"against_run": str(other_dir), "top10_common": len(common),
            "top10_common_expressions": [theirs[fp]["expression"] for fp in common],
            "spearman_common": rho, "against_top10": [r["expression"] for r in tops[1]],
            "verdicts_by_reference": by_reference,
            "verdicts_shared_candidates": len(shared),
            "verdicts_same_on_shared": sum(1 for k in shared if a[k] == b[k]),
            "better_than_same": all(bool(v["this"]["better"]) == bool(v["against"]["better"])
                                    for v in by_reference.values())}


def main(argv: list[str] | None = None) -> int:
    ap = harness.parser(__doc__, "rediscover")
    ap.add_argument("--run-dir", type=Path, default=Path("runs/bench-rediscover"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--smoke", action="store_true", help="the preset's smoke form, no reference timings (a check)")
    ap.add_argument("--against", type=Path, default=None,
                    help="another finished rediscover run: compare the top 10s and the verdicts")
    args = ap.parse_args(argv)

    before = {"sequential_seed_s": float("nan")} if args.smoke else reference()
    resumed = (args.run_dir / "run.sqlite").exists()
    cmd = [sys.executable, "-m", "actsearch.cli", "resume" if resumed else "search"]
    cmd += [str(args.run_dir)] if resumed else ["--preset", "rediscover", "--run-dir", str(args.run_dir)]
    cmd += ["--smoke"] if args.smoke and not resumed else []
    start = time.perf_counter()
    subprocess.run(cmd + ["--workers", str(args.workers)], check=True)
    wall = time.perf_counter() - start
    after = before if args.smoke else reference()

    rows, meta = finished_run(args.run_dir)
    ref_s = (before["sequential_seed_s"] + after["sequential_seed_s"]) / 2
    out = {
        "benchmark": "bench_rediscover", "machine": args.machine, "platform": platform.platform(),
        "torch": torch.__version__, "python": platform.python_version(), "workers": args.workers,
        "resumed": resumed, "wall_s": wall, "phases_wall_s": meta.get("wall_s"),
        "reference_before": before, "reference_after": after,
        "wall_in_sequential_seeds": wall / ref_s,
        **compare(rows),
        **(against(rows, args.against, args.run_dir) if args.against is not None else {}),
    }
    harness.save(args.out, out, args, indent=1, quiet=True)
    print(f"wall {wall:.0f} s ({wall / 60:.1f} min) = {out['wall_in_sequential_seeds']:.0f} sequential seeds of "
          f"{ref_s:.1f} s; phases {meta.get('wall_s')}; README top 10: {out['readme_top10_in_new_top10']}/10 in the "
          f"new top 10, Spearman {out['spearman_readme_rank_vs_new_score']}; saved {args.out}", flush=True)
    if args.against is not None:
        print(f"against {args.against}: {out['top10_common']}/10 of its top 10 in common, Spearman "
              f"{out['spearman_common']}; verdicts the same on {out['verdicts_same_on_shared']} of "
              f"{out['verdicts_shared_candidates']} shared comparisons; 'better than' per reference the same: "
              f"{out['better_than_same']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
