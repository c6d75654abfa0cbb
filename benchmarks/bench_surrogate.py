"""Surrogate pre-screen benchmark: features, the pre-screen threshold, and replayed searches.

On a fully scored space (the x-gated replay table in ``benchmarks/data/``, one seed per
candidate on ``mnist1d``) it measures

1. features: milliseconds per candidate (all three parameter values), and how well they predict
   (random forest, 5-fold CV: Spearman ρ to the score, ROC AUC for "failed": diverged/error);
2. the pre-screen: the log std of the last hidden layer at initialisation for every candidate;
   what the non-finite check alone, the shipped ``prescreen.DEFAULT`` and the band the data
   suggests (the top 5 %'s range ± 5 nats, rounded outwards) keep of the top 5 % / 1 % and remove
   of the failures (diverged/error/timeout);
3. replays (median over ``--seeds`` seeds): trainings until a candidate of the top 5 % and of
   the top 1 % is trained, for ``random``, "filter then random" (random, with candidates the
   pre-screen rejects recorded invalid without training), ``surrogate`` (proxy starts, the
   default) and ``surrogate-random-starts`` (``init="random"``); ratios to random; and where the
   trainability proxy alone (screened candidates in order of ``proxy_loss``) first reaches each
   set. The proxy's own cost is reported in trainings: candidates × ``PROXY_STEPS`` / task steps.

Run: ``nice -n 10 python benchmarks/bench_surrogate.py [--task mnist1d-shallow] [--table FILE]
[--seeds 100]``; prints and saves ``benchmarks/results/bench_surrogate.json`` (off ``mnist1d``:
``bench_surrogate_TASK.json``); the table defaults to ``benchmarks/data/SPACE-TASK.csv``.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import time
from pathlib import Path

import harness
import numpy as np
import torch
from scipy.stats import spearmanr

from actsearch.evaluators import get_task
from actsearch.evaluators.result import CandidateResult, EvalResult
from actsearch.evaluators.table import read_rows
from actsearch.grammar import parse
from actsearch.results.memory import MemoryStore
from actsearch.search.loop.study import Study
from actsearch.search.loop.trials import TrialEvent
from actsearch.search.screening import prescreen as ps
from actsearch.search.screening.features import PROXY_STEPS, Featurizer
from actsearch.search.searchers import FINISHED, make_searcher
from actsearch.search.searchers.surrogate import SurrogateSearcher
from actsearch.search.space.dedup import distinct
from actsearch.search.space.files import load_space

ROOT = Path(__file__).resolve().parent
FAILED = ("diverged", "error", "timeout")


def load_table(path: Path) -> dict[str, dict]:
    """fingerprint -> row (``score``, ``status``, ``expression`` ...) of a replay table."""
    out = {}
    for row in read_rows(path):
        fp = row["fingerprint"] or parse(row["expression"], **row["params"]).fingerprint
        out.setdefault(fp, row)
    return out


def top_set(table: dict[str, dict], frac: float) -> set[str]:
    """Fingerprints whose score reaches the k-th best, k = max(1, round(frac * n))."""
    scores = sorted((v["score"] for v in table.values()), reverse=True)
    cut = scores[max(1, round(frac * len(scores))) - 1]
    return {fp for fp, v in table.items() if v["score"] >= cut}


def replay(searcher, table: dict[str, dict], targets: dict[str, set[str]], screen=None, budget: int = 10_000):
    """Trainings until each target set is hit (None if never), through the real loop.

    A candidate the pre-screen rejects is stored invalid by the loop and costs nothing; one missing
    from the table (a partial table) is answered invalid without cost, as if outside the space.
    """
    study = Study(MemoryStore(), task="replay", searcher=searcher, budget=10**9, screen=screen)
    hit = {name: None for name in targets}
    trainings = 0
    while trainings < budget and any(v is None for v in hit.values()):
        config = study.next_trial()
        if config is FINISHED:
            break
        row = table.get(config.fingerprint)
        if row is None:  # not in a partial table: no cost
            study.complete(TrialEvent(config, _result(0.0, "invalid"), "invalid"))
            continue
        trainings += 1
        study.complete(TrialEvent(config, _result(row["score"], row["status"]), row["status"]))
        for name, fps in targets.items():
            if hit[name] is None and config.fingerprint in fps:
                hit[name] = trainings
    return hit


def _result(score: float, status: str) -> CandidateResult:
    return CandidateResult.from_runs([EvalResult(status, score if status == "ok" else 0.0, 0)])


def cv_quality(X: np.ndarray, y: np.ndarray, failed: np.ndarray) -> dict[str, float]:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import KFold, cross_val_predict

    folds = KFold(5, shuffle=True, random_state=0)
    pred = cross_val_predict(RandomForestRegressor(200, random_state=0, n_jobs=1), X, y, cv=folds)
    out = {"spearman_rho": float(spearmanr(pred, y).statistic)}
    if 0 < failed.sum() < len(failed):
        prob = cross_val_predict(RandomForestClassifier(200, random_state=0, n_jobs=1), X, failed, cv=folds,
                                 method="predict_proba")[:, 1]
        out["failed_auc"] = float(roc_auc_score(failed, prob))
    return out


def screen_band(log_std: np.ndarray, top5: np.ndarray, margin: float = 5.0) -> dict:
    """The rule behind ``prescreen.DEFAULT``: the top 5 %'s range of finite log std, widened by
    ``margin`` nats (a factor e^5 ≈ 150 in std) on each side and rounded outwards."""
    fin = np.isfinite(log_std) & (np.abs(log_std) < 1e5)
    vals = log_std[top5 & fin]
    return {"lo": float(math.floor(vals.min() - margin)), "hi": float(math.ceil(vals.max() + margin)),
            "margin": margin, "top5_range": [float(vals.min()), float(vals.max())]}


def screen_effect(log_std: np.ndarray, rejected: np.ndarray, top5: np.ndarray, top1: np.ndarray,
                  failed: np.ndarray) -> dict:
    return {
        "kept_top5": float((top5 & ~rejected).sum() / top5.sum()),
        "kept_top1": float((top1 & ~rejected).sum() / top1.sum()),
        "removed_failed": float((failed & rejected).sum() / max(1, failed.sum())),
        "removed_all": float(rejected.mean()),
        "n_failed": int(failed.sum()),
        "n_rejected": int(rejected.sum()),
    }


def main() -> None:
    ap = harness.parser(__doc__, "bench_surrogate", out=None)
    ap.add_argument("--table", type=Path, default=None,
                    help="scored replay table (CSV or JSON); default benchmarks/data/SPACE-TASK.csv")
    ap.add_argument("--space", default="x-gated")
    ap.add_argument("--task", default="mnist1d", help="task whose network the features probe")
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--surrogate", default="{}", help='surrogate options as JSON, e.g. \'{"kappa": 0.5}\'')
    ap.add_argument("--variants", default="[]", help="JSON list of further surrogate options to compare")
    args = ap.parse_args()
    torch.set_num_threads(1)
    table_path = args.table or ROOT / "data" / f"{args.space}-{args.task}.csv"
    if args.out is None:
        args.out = ROOT / "results" / ("bench_surrogate.json" if args.task == "mnist1d" else f"bench_surrogate_{args.task}.json")
    if not table_path.is_file():
        sys.exit(f"no replay table {table_path}; pass --table")
    table = load_table(table_path)
    space = load_space(args.space)

    # 1. Features of every distinct candidate of the space that the table scores.
    featurizer = Featurizer(args.task)
    acts, missing = [], 0
    for _cand, text, params, fp in distinct(space):
        if fp in table:
            acts.append(parse(text, **params))
        else:
            missing += 1
    start = time.perf_counter()
    X = featurizer.matrix(acts)
    ms_per_candidate = 1000 * (time.perf_counter() - start) / len(acts)
    fps = [a.fingerprint for a in acts]
    sub = {fp: table[fp] for fp in fps}
    y = np.array([sub[fp]["score"] for fp in fps])
    failed = np.array([sub[fp]["status"] in FAILED for fp in fps])
    okm = np.array([sub[fp]["status"] == "ok" for fp in fps])
    top5_set, top1_set = top_set(sub, 0.05), top_set(sub, 0.01)
    top5 = np.array([fp in top5_set for fp in fps])
    top1 = np.array([fp in top1_set for fp in fps])
    names = featurizer.names
    b_cols = [i for i, n in enumerate(names) if n.split("@")[0] in ps_names("b")]
    quality = {"all": cv_quality(X, y, failed), "scalar_b": cv_quality(X[:, b_cols], y, failed),
               "at_1_only": cv_quality(X[:, [i for i, n in enumerate(names) if n.endswith("@1")]], y, failed),
               "without_proxy": cv_quality(X[:, [i for i, n in enumerate(names) if "@" in n]], y, failed),
               "proxy_only": cv_quality(X[:, [i for i, n in enumerate(names) if "@" not in n]], y, failed)}

    # 2. The pre-screen threshold.
    col = names.index("log_std_last@1")
    log_std = np.where(X[:, names.index("prop_nonfinite@1")] > 0, np.inf, X[:, col])
    screen = ps.PreScreen(featurizer=featurizer)
    rejected = np.array([screen(a) is not None for a in acts])
    single = {}
    fin = np.isfinite(log_std)
    if failed.any() and (~failed).any():
        from sklearn.metrics import roc_auc_score

        single["log_std_last_failed_auc"] = float(roc_auc_score(failed, np.where(fin, np.abs(log_std), 1e9)))
    band = screen_band(log_std, top5)
    nonfinite = ~np.isfinite(log_std)
    prescreen = {
        "default": {"max_log_std": ps.DEFAULT.max_log_std, "min_log_std": ps.DEFAULT.min_log_std,
                    **screen_effect(log_std, rejected, top5, top1, failed)},
        "nonfinite_only": screen_effect(log_std, nonfinite, top5, top1, failed),
        "data_band": {**band, **screen_effect(log_std, nonfinite | (log_std < band["lo"]) | (log_std > band["hi"]),
                                              top5, top1, failed)},
        "failed_finite_log_std": sorted(float(v) for v in log_std[failed & ~nonfinite]),
        "ok_finite_log_std_range": [float(log_std[okm & ~nonfinite].min()), float(log_std[okm & ~nonfinite].max())],
        **single,
    }

    # 3. Replays.
    targets = {"top5": top5_set, "top1": top1_set}
    options = json.loads(args.surrogate)
    runs: dict[str, dict[str, list]] = {}
    strategies = {
        "random": lambda s: (make_searcher("random", space, seed=s), None),
        "filter+random": lambda s: (make_searcher("random", space, seed=s), screen),
        # the loop's pre-screen reads the surrogate's own featuriser: its rejections are free
        "surrogate": lambda s: (SurrogateSearcher(space, seed=s, featurizer=featurizer, **options), screen),
        "surrogate-random-starts": lambda s: (SurrogateSearcher(space, seed=s, featurizer=featurizer,
                                                                **{**options, "init": "random"}), screen),
    }
    timing = {}
    for name, make in strategies.items():
        start = time.perf_counter()
        runs[name] = {"top5": [], "top1": []}
        for seed in range(args.seeds):
            searcher, scr = make(seed)
            hit = replay(searcher, sub, targets, scr)
            for k in targets:
                runs[name][k].append(hit[k])
        timing[name] = round((time.perf_counter() - start) / args.seeds, 3)
    variants = []
    for extra in json.loads(args.variants):
        hits = [replay(SurrogateSearcher(space, seed=s, featurizer=featurizer, **extra), sub, targets)
                for s in range(args.seeds)]
        variants.append({"options": extra, **{k: _median([h[k] for h in hits]) for k in targets}})
    order = np.argsort(np.where(rejected, np.inf, X[:, names.index("proxy_loss")]), kind="stable")
    proxy_order = {k: 1 + int(np.flatnonzero(mask[order])[0]) for k, mask in (("top5", top5), ("top1", top1))}
    task_steps = getattr(getattr(get_task(args.task), "config", None), "steps", None)
    proxy_cost = len(acts) * PROXY_STEPS / task_steps if task_steps else None
    summary = {}
    for name, r in runs.items():
        summary[name] = {k: _median(v) for k, v in r.items()}
    for name in summary:
        for k in targets:
            summary[name][f"{k}_ratio_to_random"] = _ratio(summary[name][k], summary["random"][k])
    result = {
        "table": str(table_path.relative_to(ROOT.parent) if table_path.is_relative_to(ROOT.parent) else table_path),
        "space": args.space, "task": args.task, "seeds": args.seeds, "surrogate_options": options,
        "n_candidates": len(acts), "not_in_table": missing, "n_top5": len(top5_set), "n_top1": len(top1_set),
        "features_ms_per_candidate": round(ms_per_candidate, 2), "feature_quality_cv5": quality,
        "prescreen": prescreen, "replay_median_trainings": summary, "replay_runs": runs,
        "surrogate_variants": variants,
        "proxy_order_first_hit": proxy_order,
        "proxy_spearman_rho": float(spearmanr(X[~rejected, names.index("proxy_loss")], y[~rejected]).statistic),
        "proxy_cost_trainings": None if proxy_cost is None else round(proxy_cost, 2),
        "replay_seconds_per_seed": timing, "torch_threads": 1,
        "prototype": {"features_ms_per_candidate": 38, "spearman_rho": 0.90, "failed_auc": 0.975,
                      "log_std_last_failed_auc": 0.96, "random_top5": 15, "surrogate_top5": 10,
                      "surrogate_top5_ratio": 0.67},
    }
    harness.save(args.out, result, args, quiet=True)
    print(json.dumps({k: v for k, v in result.items() if k != "replay_runs"}, indent=2))


def ps_names(group: str) -> tuple[str, ...]:
    from actsearch.search.screening.features import PROPAGATION_NAMES, SCALAR_NAMES

    return SCALAR_NAMES if group == "b" else PROPAGATION_NAMES


def _median(values: list) -> float | None:
    """Median with a never-hit run counted as infinitely many trainings."""
    vals = [math.inf if v is None else v for v in values]
    m = statistics.median(vals)
    return None if math.isinf(m) else float(m)


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else round(a / b, 3)


if __name__ == "__main__":
    main()
