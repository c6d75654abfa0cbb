"""The verdict's statistics, calibrated: no training, a score that is pure noise of (function, seed).

Scores are ``effect_f + u_seed + e_(f, seed)``: ``u`` is shared by every function on a seed (what
a task makes seed-determined: data order, initialisation), ``e`` is each function's own noise. Over
many repetitions the family-wise rate of false ``better``/``worse`` verdicts stays at alpha, a
planted better function is found at the power the noncentral t predicts, and pairing beats Welch.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from actsearch.errors import UserError
from actsearch.results.verdict import Verdict, check_alpha, confirm_scores, holm, planned_looks, until_decided

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

K, REFS, N, ALPHA = 5, 3, 10, 0.05
TAU, SIGMA = 1.0, 0.5  # sd of the shared per-seed effect and of each function's own noise
CANDS = [f"c{i}" for i in range(K)]
REFNAMES = [f"r{j}" for j in range(REFS)]


def _scores(rng: np.random.Generator, planted: float = 0.0, n: int = N) -> dict[str, dict[int, float]]:
    """One repetition: every function on seeds 1000..1000+n−1; ``c0`` better by ``planted``."""
    seeds = range(1000, 1000 + n)
    shared = rng.normal(0.0, TAU, n)
    out = {}
    for name in CANDS + REFNAMES:
        own = rng.normal(0.0, SIGMA, n) + (planted if name == "c0" else 0.0)
        out[name] = dict(zip(seeds, (shared + own).tolist(), strict=True))
    return out


def _t_power(ncp: float, df: float, level: float) -> float:
    """Two-sided power of a t test at ``level`` with noncentrality ``ncp``."""
    crit = stats.t.ppf(1 - level / 2, df)
    return float(stats.nct.sf(crit, df, ncp) + stats.nct.cdf(-crit, df, ncp))


def test_family_wise_false_verdict_rate_at_most_alpha():
    rng = np.random.default_rng(20261207)
    reps, false = 2000, 0
    for _ in range(reps):
        result = confirm_scores(_scores(rng), CANDS, REFNAMES, alpha=ALPHA)
        false += any(c.verdict is not Verdict.NO_CLEAR_DIFFERENCE for c in result.comparisons)
    rate = false / reps
    margin = 3 * math.sqrt(ALPHA * (1 - ALPHA) / reps)
    print(f"\nfamily-wise false-verdict rate: {rate:.4f} over {reps} repetitions "
          f"({K}x{REFS} comparisons, {N} seeds, alpha {ALPHA})")
    assert rate <= ALPHA + margin


def test_planted_better_function_found_at_predicted_power():
    d = 0.5  # the planted effect in (marginal) pooled sd of the scores
    delta = d * math.sqrt(TAU ** 2 + SIGMA ** 2)
    ncp = delta / (SIGMA * math.sqrt(2)) * math.sqrt(N)  # paired differences cancel the seed effect
    unadjusted, bonferroni = _t_power(ncp, N - 1, ALPHA), _t_power(ncp, N - 1, ALPHA / (K * REFS))
    rng = np.random.default_rng(7)
    reps, raw_hits, holm_hits, wrong = 1000, 0, 0, 0
    for _ in range(reps):
        result = confirm_scores(_scores(rng, planted=delta), CANDS, REFNAMES, alpha=ALPHA)
        first = result.comparisons[0]  # c0 against r0
        assert (first.expression, first.against) == ("c0", "r0")
        raw_hits += first.p <= ALPHA and first.mean_diff > 0
        holm_hits += first.verdict is Verdict.BETTER
        wrong += any(c.verdict is Verdict.WORSE for c in result.comparisons if c.expression == "c0")
    raw, adj = raw_hits / reps, holm_hits / reps
    margin = 4 * math.sqrt(0.25 / reps)
    print(f"\nplanted d={d} sd, {N} seeds: unadjusted power {raw:.3f} (noncentral t predicts {unadjusted:.3f}); "
          f"Holm 'better' rate {adj:.3f} (Bonferroni bound {bonferroni:.3f})")
    assert abs(raw - unadjusted) <= margin
    assert bonferroni - margin <= adj <= unadjusted + margin
    assert wrong == 0


def test_pairing_is_more_powerful_than_welch_on_seed_correlated_scores():
    rng = np.random.default_rng(11)
    delta = 0.5 * math.sqrt(TAU ** 2 + SIGMA ** 2)
    reps, paired_hits, welch_hits = 300, 0, 0
    for _ in range(reps):
        scores = _scores(rng, planted=delta)
        paired_hits += confirm_scores(scores, ["c0"], ["r0"]).comparisons[0].verdict is Verdict.BETTER
        welch = confirm_scores(scores, ["c0"], ["r0"], paired=False)
        assert welch.paired is False
        welch_hits += welch.comparisons[0].verdict is Verdict.BETTER
    print(f"\npower paired {paired_hits / reps:.3f} vs Welch {welch_hits / reps:.3f}")
    assert paired_hits > 2 * welch_hits


def test_holm_matches_a_hand_worked_example():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> monotone 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []


def test_paired_t_matches_scipy_and_json_has_the_documented_shape():
    a = {1000: 0.91, 1001: 0.88, 1002: 0.93, 1003: 0.90}
    b = {1000: 0.89, 1001: 0.87, 1002: 0.90, 1003: 0.90}
    result = confirm_scores({"x": a, "relu": b}, ["x"], ["relu"], task="xor",
                            search_scores={"x": 0.95})
    c = result.comparisons[0]
    ref = stats.ttest_rel(list(a.values()), list(b.values()))
    assert c.p == pytest.approx(ref.pvalue) and c.p_adjusted == pytest.approx(ref.pvalue)
    assert c.ci_low < c.mean_diff < c.ci_high and c.n == 4
    doc = json.loads(json.dumps(result.to_json()))
    assert set(doc) == {"alpha", "seeds", "task", "paired", "comparisons", "candidates"}
    assert doc["seeds"] == [1000, 1001, 1002, 1003] and doc["paired"] is True
    assert set(doc["comparisons"][0]) == {"expression", "against", "n", "mean_diff", "ci_low", "ci_high", "p",
                                          "p_adjusted", "effect_sd", "verdict"}
    assert set(doc["candidates"][0]) == {"expression", "search_score", "confirmed_mean", "confirmed_sd",
                                         "overstatement"}
    assert doc["candidates"][0]["overstatement"] == pytest.approx(0.95 - np.mean(list(a.values())))


def test_one_seed_or_bad_alpha_is_a_user_error():
    with pytest.raises(UserError, match="no test possible with one seed"):
        confirm_scores({"x": {1000: 0.9}, "relu": {1000: 0.8}}, ["x"], ["relu"])
    with pytest.raises(UserError, match="no test possible with one seed"):
        confirm_scores({"x": {1000: 0.9}, "relu": {1000: 0.8}}, ["x"], ["relu"], paired=False)
    for bad in (0, 1, -0.1, 1.5, float("nan")):
        with pytest.raises(UserError, match="alpha"):
            check_alpha(bad)


def test_identical_differences_give_an_exact_verdict():
    a = {1000: 0.9, 1001: 0.8, 1002: 0.7}
    b = {s: v - 0.1 for s, v in a.items()}
    c = confirm_scores({"x": a, "relu": b}, ["x"], ["relu"]).comparisons[0]
    assert c.p == 0.0 and c.verdict is Verdict.BETTER and c.ci_low == c.ci_high == pytest.approx(0.1)
    same = confirm_scores({"x": a, "relu": dict(a)}, ["x"], ["relu"]).comparisons[0]
    assert same.p == 1.0 and same.verdict is Verdict.NO_CLEAR_DIFFERENCE


def test_until_decided_keeps_the_family_wise_rate_over_its_looks():
    """Looking after 5, 10 and 15 seeds at alpha / 3 each: still at most alpha in all."""
    assert planned_looks(5, 15) == [5, 10, 15] and planned_looks(5, 12) == [5, 10, 12]
    with pytest.raises(UserError, match="--max-seeds must be more than --seeds"):
        planned_looks(5, 5)
    rng = np.random.default_rng(3)
    reps, false, looked = 500, 0, []
    for _ in range(reps):
        full = _scores(rng, n=15)
        asked: list[int] = []

        def collect(n: int, full=full, asked=asked) -> dict[str, dict[int, float]]:
            asked.append(n)
            return {name: {s: v for s, v in by_seed.items() if s < 1000 + n} for name, by_seed in full.items()}

        result = until_decided(collect, CANDS, REFNAMES, seeds=5, max_seeds=15, alpha=ALPHA)
        assert result.looks == 3 and result.to_json()["looks"] == 3 and len(result.seeds) == asked[-1]
        false += any(c.verdict is not Verdict.NO_CLEAR_DIFFERENCE for c in result.comparisons)
        looked.append(len(asked))
    rate = false / reps
    print(f"\nuntil decided (5, 10, 15 seeds): family-wise false-verdict rate {rate:.4f} over {reps} repetitions")
    assert rate <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / reps)
    assert max(looked) == 3  # noise is never decided: it looks to the end
