"""Does the OOD fitness predict held-out classification ranks better than in-distribution accuracy?

    python benchmarks/bench_ood_fitness.py [--bootstrap 2000]

The 2026 AlphaEvolve study scored candidates by how a small MLP fitting synthetic functions
extrapolates outside its training range (here the ``ood-regression`` task). This replays the x-gated
one-seed tables (``benchmarks/data/x-gated-*.csv``, one row per distinct function) and asks, over the
same candidates, which score ranks the held-out networks' results best (Spearman's ρ):

- predictors: the search panel's accuracy (``mnist1d-cnn``, ``mnist1d-resnet-ln``, and the panel: the
  mean of the two ranks), the OOD fitness alone, and the OOD fitness as a third panel member (the mean
  of the three ranks);
- targets: the held-out classification networks (``mnist1d-vit``, the deep MLP ``mnist1d``) and their
  mean rank;
- on the functions that trained on every task (``ok`` in every table) and on all of them (a function
  that failed on a task ranks last there);
- a paired bootstrap over candidates (same resample for both predictors) gives a 95 % interval of
  ρ(predictor) − ρ(panel): an interval below 0 says the predictor is worse than the panel's accuracy.

Prints a table and saves ``benchmarks/results/ood_fitness.json``; no training (the OOD table is made
with ``benchmarks/data/make_table.py --task ood-regression``, see ``benchmarks/data/README.md``).
"""

from __future__ import annotations

import csv

import harness
import numpy as np
from scipy.stats import rankdata

DATA = harness.HERE / "data"
SEARCH = ("mnist1d-cnn", "mnist1d-resnet-ln")
HELD_OUT = ("mnist1d-vit", "mnist1d")
OOD = "ood-regression"


def load(task: str) -> dict[str, float | None]:
    """fingerprint -> score (None unless the row trained ok) of one table."""
    with (DATA / f"x-gated-{task}.csv").open() as handle:
        return {row["fingerprint"]: float(row["score"]) if row["status"] == "ok" else None
                for row in csv.DictReader(handle) if row["status"] != "invalid"}


def ranks(scores: np.ndarray) -> np.ndarray:
    """Ranks, higher score = higher rank; NaN (failed) below every finished one."""
    filled = np.where(np.isnan(scores), -np.inf, scores)
    return rankdata(filled)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(rankdata(a), rankdata(b))[0, 1])


def study(tables: dict[str, dict[str, float | None]], keys: list[str], n_boot: int, seed: int = 0) -> dict:
    cols = {t: ranks(np.array([np.nan if tables[t][k] is None else tables[t][k] for k in keys])) for t in tables}
    predictors = {t: cols[t] for t in SEARCH}
    predictors["panel"] = (cols[SEARCH[0]] + cols[SEARCH[1]]) / 2
    predictors["ood"] = cols[OOD]
    predictors["panel+ood"] = (cols[SEARCH[0]] + cols[SEARCH[1]] + cols[OOD]) / 3
    targets = {t: cols[t] for t in HELD_OUT}
    targets["held-out"] = (cols[HELD_OUT[0]] + cols[HELD_OUT[1]]) / 2
    rng = np.random.default_rng(seed)
    boot = [rng.integers(0, len(keys), len(keys)) for _ in range(n_boot)]
    out = {}
    for tname, target in targets.items():
        panel_boot = [spearman(predictors["panel"][i], target[i]) for i in boot]  # once per target
        row = {}
        for pname, pred in predictors.items():
            rho = spearman(pred, target)
            entry = {"rho": round(rho, 3)}
            if pname not in SEARCH and pname != "panel":
                diffs = [spearman(pred[i], target[i]) - p for i, p in zip(boot, panel_boot, strict=True)]
                lo, hi = np.percentile(diffs, [2.5, 97.5])
                entry |= {"minus_panel": round(rho - spearman(predictors["panel"], target), 3),
                          "interval": [round(float(lo), 3), round(float(hi), 3)]}
            row[pname] = entry
        out[tname] = row
    return {"candidates": len(keys), "by_target": out}


def main() -> None:
    ap = harness.parser(__doc__, "ood_fitness")
    ap.add_argument("--bootstrap", type=int, default=2000)
    args = ap.parse_args()
    tables = {t: load(t) for t in (*SEARCH, *HELD_OUT, OOD)}
    common = sorted(set.intersection(*(set(t) for t in tables.values())))
    everywhere = [k for k in common if all(tables[t][k] is not None for t in tables)]
    result = {"benchmark": "ood_fitness", "search_panel": SEARCH, "held_out": HELD_OUT, "ood": OOD,
              "bootstrap": args.bootstrap, "trained_everywhere": study(tables, everywhere, args.bootstrap),
              "all": study(tables, common, args.bootstrap)}
    for name in ("trained_everywhere", "all"):
        part = result[name]
        print(f"{name} ({part['candidates']} functions): Spearman with the held-out ranks "
              "(Δ vs the panel's accuracy, 95 % paired bootstrap)")
        for target, row in part["by_target"].items():
            cells = []
            for pred, e in row.items():
                extra = f" (Δ {e['minus_panel']:+.2f} [{e['interval'][0]:+.2f}, {e['interval'][1]:+.2f}])" \
                    if "interval" in e else ""
                cells.append(f"{pred} {e['rho']:.2f}{extra}")
            print(f"  {target:<12} " + "; ".join(cells))
    harness.save(args.out, result, args)


if __name__ == "__main__":
    main()
