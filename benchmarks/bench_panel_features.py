"""Which network's features predict a panel's score: the panel's first member's, or all of them?

The surrogate (and the pre-screen) featurise a candidate on one child network; on a panel task
they use the panel's first member that has a network. This measures, on the x-gated space, how
well a random forest predicts the panel score from the features of

- ``first``: the first member's network (what the surrogate uses),
- each other member's network alone, and
- ``all``: every member's features side by side,

by 5-fold cross-validation (Spearman ρ of the predicted to the real panel score, ROC AUC for
"the training failed"), over every function and over the ones that trained on every member, with the panel score of the replay tables: per member z = (score − ReLU
mean) / ReLU sd from ``benchmarks/results/calibration.json`` (the references the discover preset
measures, 5 seeds), their mean; a function that failed on any member scores the lowest z seen
(``with_failures``, as the searchers count it). It also reports the featurisation cost per
candidate and network.

Run: ``nice -n 10 python benchmarks/bench_panel_features.py [--panel mnist1d-cnn,mnist1d-resnet-ln]``;
needs ``benchmarks/data/x-gated-MEMBER.csv`` for every member; prints and saves
``benchmarks/results/bench_panel_features.json``.
"""

from __future__ import annotations

import csv
import json
import statistics
import time
from pathlib import Path

import harness
import numpy as np
import torch
from bench_surrogate import cv_quality

from actsearch.grammar import parse
from actsearch.search.screening.features import Featurizer
from actsearch.search.searchers.base import with_failures
from actsearch.search.space.dedup import distinct
from actsearch.search.space.files import load_space

ROOT = Path(__file__).resolve().parent
MIN_SD = 0.005  # the panel's default floor of ReLU's spread


def _table(path: Path) -> dict[str, tuple[str, float]]:
    with path.open(newline="") as fh:
        return {r["fingerprint"]: (r["status"], float(r["score"])) for r in csv.DictReader(fh)}


def main() -> None:
    ap = harness.parser(__doc__, "bench_panel_features")
    ap.add_argument("--panel", default="mnist1d-cnn,mnist1d-resnet-ln")
    ap.add_argument("--space", default="x-gated")
    args = ap.parse_args()
    torch.set_num_threads(1)
    members = args.panel.split(",")
    calib = json.loads((ROOT / "results" / "calibration.json").read_text())["tasks"]
    refs = {m: (calib[m]["candidates"]["relu"]["mean"], calib[m]["candidates"]["relu"]["sd"]) for m in members}
    tables = {m: _table(ROOT / "data" / f"{args.space}-{m}.csv") for m in members}
    acts = [parse(text, **params) for _c, text, params, fp in distinct(load_space(args.space))
            if all(fp in t and t[fp][0] != "invalid" for t in tables.values())]
    fits, failed = [], []
    for a in acts:
        rows = [tables[m][a.fingerprint] for m in members]
        ok = all(s == "ok" for s, _ in rows)
        failed.append(not ok)
        fits.append(statistics.fmean((v - refs[m][0]) / max(refs[m][1], MIN_SD)
                                     for m, (_, v) in zip(members, rows, strict=True)) if ok else None)
    y, failed = np.array(with_failures(fits)), np.array(failed)
    X, cost_ms = {}, {}
    for m in members:
        featurizer = Featurizer(m)
        start = time.perf_counter()
        X[m] = featurizer.matrix(acts)
        cost_ms[m] = 1000 * (time.perf_counter() - start) / len(acts)
    sets = {f"{'first' if i == 0 else 'only'}: {m}": X[m] for i, m in enumerate(members)}
    sets["all"] = np.hstack([X[m] for m in members])
    ok = ~failed
    quality = {name: {**cv_quality(x, y, failed),
                      "spearman_rho_ok_only": cv_quality(x[ok], y[ok], failed[ok])["spearman_rho"]}
               for name, x in sets.items()}
    result = {"panel": members, "space": args.space, "functions": len(acts), "failed": int(failed.sum()),
              "references": {m: {"mean": r[0], "sd": r[1]} for m, r in refs.items()},
              "features_ms_per_candidate": cost_ms, "cv": quality}
    harness.save(args.out, result, args, indent=1, quiet=True)
    print(f"{len(acts)} functions ({int(failed.sum())} failed on some member); 5-fold CV of a forest:")
    for name, q in quality.items():
        print(f"  {name:30s} Spearman {q['spearman_rho']:.3f} (ok rows only {q['spearman_rho_ok_only']:.3f})  "
              f"failed AUC {q.get('failed_auc', float('nan')):.3f}")
    print(f"  features: {', '.join(f'{m} {c:.0f} ms' for m, c in cost_ms.items())} per candidate -> {args.out}")


if __name__ == "__main__":
    main()
