"""The verdict of a confirmation: is a candidate better than a reference, beyond the seed noise?

Pure statistics (numpy and scipy, no training). The input is, per function, its scores by seed
("higher is better", as stored); the output is one :class:`Comparison` per (candidate, reference)
and one :class:`CandidateSummary` per candidate, gathered in a :class:`Confirmed`.

Per comparison: the mean difference (candidate − reference), its 95 % confidence interval (not
adjusted for multiplicity), a two-sided p-value, the p-value adjusted over all K × references
comparisons by Holm–Bonferroni (which keeps the family-wise error rate at ``alpha`` under any
dependence between the comparisons), the effect in pooled sd (mean difference over
sqrt((sd_c² + sd_r²) / 2)) and the verdict: ``better`` / ``worse`` when the adjusted p is at most
``alpha`` (by the sign of the difference), else ``no clear difference``.

Why the paired t test: a candidate's seed s and a reference's seed s share the data order and the
initialisation draws, so their scores are correlated and the difference cancels that shared part.
With the small n used here (5–20 seeds) the t test has more power than the Wilcoxon signed-rank
test, whose smallest two-sided p at n = 5 is 0.0625: it could never reject at alpha 0.05, let alone
after the correction. When the differences are far from normal (one diverged seed, say), the
outlier inflates the sd of the differences more than their mean, so the t test becomes
conservative — it loses power, it does not invent verdicts; we keep the t test and do not switch
test on the data (choosing the test after looking would itself bias the p-value). When seeds are
not paired (a task that is not seed-deterministic), Welch's unpaired t test is used and the
result says ``paired: false``.

Sequential (``--until-decided``, :func:`until_decided`): seeds are added in batches of the first
count N, looking after each batch, until every comparison is decided or M seeds are reached. With
L = 1 + ceil((M − N) / N) planned looks, every look tests at alpha / L (Bonferroni over the looks,
Holm within a look): a false verdict at any look has probability at most L · alpha / L = alpha,
whatever the dependence between looks. The result says ``looks`` and applies alpha / L.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from actsearch.errors import UserError

CI_LEVEL = 0.95  # the confidence level of each comparison's interval
DEFAULT_ALPHA = 0.05  # the family-wise error rate of the verdicts

Scores = Mapping[int, float]  # seed -> score


class Verdict(str, enum.Enum):
    """The outcome of one comparison (candidate against reference)."""

    BETTER = "better"
    WORSE = "worse"
    NO_CLEAR_DIFFERENCE = "no clear difference"


class VerdictError(UserError):
    """Scores that allow no test (fewer than two seeds) or a bad alpha."""


@dataclass(frozen=True)
class Comparison:
    """One candidate against one reference."""

    expression: str
    against: str
    n: int  # pairs (paired) or the smaller group size (unpaired)
    mean_diff: float
    ci_low: float
    ci_high: float
    p: float
    p_adjusted: float
    effect_sd: float
    verdict: Verdict

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: _finite(getattr(self, k)) for k in (
            "expression", "against", "n", "mean_diff", "ci_low", "ci_high", "p", "p_adjusted", "effect_sd")}
        out["verdict"] = self.verdict.value
        return out


@dataclass(frozen=True)
class CandidateSummary:
    """A candidate's search score against its confirmed mean: the winner's curse, shown."""

    expression: str
    search_score: float | None
    confirmed_mean: float
    confirmed_sd: float
    overstatement: float | None  # search_score − confirmed_mean

    def to_json(self) -> dict[str, Any]:
        return {k: _finite(getattr(self, k)) for k in (
            "expression", "search_score", "confirmed_mean", "confirmed_sd", "overstatement")}


@dataclass(frozen=True)
class Confirmed:
    """All comparisons of a confirmation."""

    alpha: float
    seeds: tuple[int, ...]
    task: str
    paired: bool
    comparisons: tuple[Comparison, ...]
    candidates: tuple[CandidateSummary, ...]
    looks: int = 1  # planned looks of a sequential confirmation: each tests at alpha / looks

    @property
    def decided(self) -> bool:
        """Whether every comparison has a verdict other than ``no clear difference``."""
        return all(c.verdict is not Verdict.NO_CLEAR_DIFFERENCE for c in self.comparisons)

    def to_json(self) -> dict[str, Any]:
        out = {"alpha": self.alpha, "seeds": list(self.seeds), "task": self.task, "paired": self.paired,
               "comparisons": [c.to_json() for c in self.comparisons],
               "candidates": [c.to_json() for c in self.candidates]}
        if self.looks > 1:
            out["looks"] = self.looks
        return out


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: those become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def check_alpha(alpha: float) -> float:
    if not (isinstance(alpha, (int, float)) and 0.0 < float(alpha) < 1.0):
        raise VerdictError(f"alpha must be between 0 and 1 (exclusive), got {alpha!r}")
    return float(alpha)


def _clean(scores: Scores) -> dict[int, float]:
    return {int(s): float(v) for s, v in scores.items() if v is not None and math.isfinite(float(v))}


@dataclass(frozen=True)
class _Test:
    n: int
    mean_diff: float
    ci_low: float
    ci_high: float
    p: float
    effect_sd: float


def _pooled_sd(a: np.ndarray, b: np.ndarray) -> float:
    return math.sqrt((np.var(a, ddof=1) + np.var(b, ddof=1)) / 2.0)


def _t_result(n: int, mean: float, se: float, df: float, pooled: float) -> _Test:
    if se == 0.0:  # no spread at all: the difference is exact
        p = 1.0 if mean == 0.0 else 0.0
        low = high = mean
    else:
        t = mean / se
        p = float(min(1.0, 2.0 * special.stdtr(df, -abs(t))))  # the t distribution's cdf
        half = float(special.stdtrit(df, 0.5 + CI_LEVEL / 2.0)) * se
        low, high = mean - half, mean + half
    effect = mean / pooled if pooled > 0 else (0.0 if mean == 0.0 else math.copysign(math.inf, mean))
    return _Test(n, mean, low, high, p, effect)


def paired_test(candidate: Scores, reference: Scores) -> _Test:
    """The paired t test over the seeds both have (seed -> score mappings)."""
    a, b = _clean(candidate), _clean(reference)
    common = sorted(set(a) & set(b))
    n = len(common)
    if n < 2:
        raise VerdictError(f"no test possible with {'one seed' if n == 1 else 'no seed'} in common "
                           "(give at least 2 seeds)")
    x = np.array([a[s] for s in common])
    y = np.array([b[s] for s in common])
    d = x - y
    se = float(np.std(d, ddof=1)) / math.sqrt(n)
    return _t_result(n, float(d.mean()), se, n - 1, _pooled_sd(x, y))


def welch_test(candidate: Scores, reference: Scores) -> _Test:
    """Welch's unpaired t test (unequal variances) of two groups of scores."""
    x = np.array(list(_clean(candidate).values()))
    y = np.array(list(_clean(reference).values()))
    n = min(len(x), len(y))
    if n < 2:
        raise VerdictError("no test possible with one seed (give at least 2 seeds)")
    vx, vy = float(np.var(x, ddof=1)) / len(x), float(np.var(y, ddof=1)) / len(y)
    se = math.sqrt(vx + vy)
    df = (vx + vy) ** 2 / (vx ** 2 / (len(x) - 1) + vy ** 2 / (len(y) - 1)) if se > 0 else 1.0
    return _t_result(n, float(x.mean() - y.mean()), se, df, _pooled_sd(x, y))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the input order: the i-th smallest p times (m − i + 1),
    made monotone and capped at 1. Rejecting where the adjusted p ≤ alpha keeps the family-wise
    error rate at alpha."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    out = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(pvalues[i])))
        out[i] = running
    return out


def decide(mean_diff: float, p_adjusted: float, alpha: float) -> Verdict:
    if p_adjusted <= alpha and mean_diff > 0:
        return Verdict.BETTER
    if p_adjusted <= alpha and mean_diff < 0:
        return Verdict.WORSE
    return Verdict.NO_CLEAR_DIFFERENCE


def compare_pairs(pairs: Sequence[tuple[str, str, Scores, Scores]], *, alpha: float = DEFAULT_ALPHA,
                  paired: bool = True, looks: int = 1) -> tuple[Comparison, ...]:
    """One family of comparisons: each (candidate, reference, candidate's scores, reference's scores)
    tested (paired t or Welch), the p-values Holm-adjusted over the whole family, a verdict at
    alpha / looks. The building block of :func:`confirm_scores`; also used where one family spans
    several tasks (the discover pipeline's held-out architectures)."""
    alpha = check_alpha(alpha)
    if not pairs:
        raise VerdictError("nothing to compare: give at least one candidate and one reference")
    test = paired_test if paired else welch_test
    raw = [test(a, b) for _, _, a, b in pairs]
    adjusted = holm([t.p for t in raw])
    return tuple(Comparison(c, r, t.n, t.mean_diff, t.ci_low, t.ci_high, t.p, padj, t.effect_sd,
                            decide(t.mean_diff, padj, alpha / looks))
                 for (c, r, _, _), t, padj in zip(pairs, raw, adjusted, strict=True))


def confirm_scores(scores: Mapping[str, Scores], candidates: Sequence[str], references: Sequence[str], *,
                   alpha: float = DEFAULT_ALPHA, paired: bool = True, task: str = "",
                   search_scores: Mapping[str, float | None] | None = None, looks: int = 1) -> Confirmed:
    """Every candidate against every reference, Holm-adjusted over all of those comparisons.

    ``scores[name]`` maps seed -> score for each candidate and reference; ``search_scores`` the
    score each candidate had in the search (for the winner's-curse table); ``looks``: the planned
    looks of a sequential confirmation (the verdicts use alpha / looks)."""
    alpha = check_alpha(alpha)
    if isinstance(looks, bool) or not isinstance(looks, int) or looks < 1:
        raise VerdictError(f"looks must be a positive integer, got {looks!r}")
    if not candidates or not references:
        raise VerdictError("nothing to compare: give at least one candidate and one reference")
    missing = [name for name in [*candidates, *references] if name not in scores]
    if missing:
        raise VerdictError(f"no scores for {missing[0]!r}")
    comparisons = compare_pairs([(c, r, scores[c], scores[r]) for c in candidates for r in references],
                                alpha=alpha, paired=paired, looks=looks)
    summaries = []
    for c in candidates:
        values = np.array(list(_clean(scores[c]).values()))
        mean = float(values.mean())
        sd = float(values.std(ddof=1)) if len(values) > 1 else math.nan
        search = (search_scores or {}).get(c)
        summaries.append(CandidateSummary(c, search, mean, sd, None if search is None else search - mean))
    seeds = sorted({s for name in [*candidates, *references] for s in _clean(scores[name])})
    return Confirmed(alpha, tuple(seeds), task, paired, comparisons, tuple(summaries), looks)


def planned_looks(seeds: int, max_seeds: int) -> list[int]:
    """The seed counts at which a sequential confirmation looks: N, 2N, ... and M last."""
    if isinstance(max_seeds, bool) or not isinstance(max_seeds, int) or max_seeds <= seeds:
        raise VerdictError(f"--max-seeds must be more than --seeds ({seeds}), got {max_seeds!r}")
    return [min(seeds * j, max_seeds) for j in range(1, math.ceil(max_seeds / seeds) + 1)]


def until_decided(collect: Callable[[int], Mapping[str, Scores]], candidates: Sequence[str],
                  references: Sequence[str], *, seeds: int, max_seeds: int, alpha: float = DEFAULT_ALPHA,
                  paired: bool = True, task: str = "",
                  search_scores: Mapping[str, float | None] | None = None) -> Confirmed:
    """Look after each batch of ``seeds`` (``collect(n)``: the scores on the first n seeds) until
    every comparison is decided or ``max_seeds`` is reached; alpha / looks at each look."""
    counts = planned_looks(seeds, max_seeds)
    result = None
    for n in counts:
        result = confirm_scores(collect(n), candidates, references, alpha=alpha, paired=paired, task=task,
                                search_scores=search_scores, looks=len(counts))
        if result.decided:
            break
    assert result is not None
    return result
