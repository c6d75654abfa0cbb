"""The verdicts of a run, rebuilt read-only from its stored ``confirmation`` rows.

A confirmation (``actsearch confirm``) stores each function's scores on the fresh seeds (role
``confirmation``) and, in the run's metadata key ``confirm``, what it compared: the alpha, the seeds,
the task, the candidates and the references. The verdict is a function of those rows, so the
leaderboard, ``show`` and the report recompute it here with the same statistics
(:func:`actsearch.results.verdict.confirm_scores`) and the stored alpha (0.05 when the metadata has
none) — nothing is trained and nothing is written. Each confirmed leaderboard entry gets ``vs``
(reference -> verdict word), which the formats show (:func:`actsearch.results.formats.verdict_symbols`).
"""

from __future__ import annotations

import math
from typing import Any

from actsearch.evaluators.result import Status
from actsearch.results.records import CONFIRM_SEED_BASE, Role, task_label
from actsearch.results.verdict import (
    DEFAULT_ALPHA,
    Confirmed,
    Verdict,
    VerdictError,
    check_alpha,
    confirm_scores,
)

COMPARISON_COLUMNS = ("expression", "against", "n", "mean_diff", "ci_low", "ci_high", "p", "p_adjusted",
                      "effect_sd", "verdict")
META_KEY = "confirm"  # the run metadata key a confirmation writes (see :func:`confirm_meta`)


def confirm_meta(result: Confirmed, references: list[str] | tuple[str, ...], looks: int = 1) -> dict[str, Any]:
    """What a confirmation stores in the run's metadata so that the views rebuild the same verdict."""
    return {"alpha": result.alpha, "seeds": list(result.seeds), "task": result.task,
            "candidates": [c.expression for c in result.candidates], "references": list(references),
            "looks": looks}


def _ok(runs: list[Any], seeds: set[int] | None) -> dict[int, float]:
    out = {}
    for r in runs or []:
        if not isinstance(r, dict):
            continue
        seed, score = r.get("seed"), r.get("score")
        if (r.get("status") == Status.OK and isinstance(seed, int) and not isinstance(seed, bool)
                and seed >= CONFIRM_SEED_BASE and (seeds is None or seed in seeds)
                and isinstance(score, (int, float)) and math.isfinite(score)):
            out[seed] = float(score)
    return out


def _search_scores(records: list[Any], search_task: str | None) -> dict[str, tuple[str, float | None]]:
    """fingerprint -> (expression, search score) of the search's ranked functions."""
    from actsearch.results.leaderboard import build

    board = build(records, task=search_task, properties=False)
    return {e.fingerprint: (e.expression, e.score) for e in board if e.fingerprint and e.role != Role.REFERENCE}


def stored_verdict(records: list[Any], meta: dict[str, Any], *, alpha: float | None = None,
                   task: str | None = None) -> Confirmed | None:
    """The verdict of the run's confirmation (None when it has no confirmation rows to test).

    ``alpha``: default the one the confirmation used; ``task``: the confirmation's task label
    (default the one stored, else the run's task when it has confirmation rows, else the first)."""
    conf = meta.get(META_KEY) if isinstance(meta.get(META_KEY), dict) else {}
    rows = [r for r in records if r.role == Role.CONFIRMATION and r.alias_of is None]
    if not rows:
        return None
    alpha = check_alpha(alpha if alpha is not None else conf.get("alpha", DEFAULT_ALPHA))
    search_task = task_label(meta["task"], meta.get("task_overrides") or {}) \
        if isinstance(meta.get("task"), str) else None
    labels = list(dict.fromkeys(r.task_label for r in rows))
    wanted = task or (conf.get("task") if conf.get("task") in labels else None) \
        or (search_task if search_task in labels else labels[0])
    rows = [r for r in rows if r.task_label == wanted]
    if not rows:
        return None
    seeds = conf.get("seeds") if wanted == conf.get("task") and isinstance(conf.get("seeds"), list) else None
    seed_set = {s for s in seeds if isinstance(s, int)} if seeds else None
    searched = _search_scores(records, search_task)
    scores: dict[str, dict[int, float]] = {}
    refs: list[str] = []
    cands: list[str] = []
    search: dict[str, float | None] = {}
    for r in rows:
        if r.reference is not None:
            refs.append(r.reference)
            scores[r.reference] = _ok(r.runs, seed_set)
            continue
        expression, score = searched.get(r.fingerprint, (r.expression, None))
        cands.append(expression)
        scores[expression] = _ok(r.runs, seed_set)
        search[expression] = score
    if wanted == conf.get("task"):  # the confirmation's own choice of candidates and references
        refs = [x for x in conf.get("references") or refs if x in scores] or refs
        cands = [x for x in conf.get("candidates") or cands if x in scores] or cands
    refs = [x for x in dict.fromkeys(refs) if len(scores[x]) >= 2]
    cands = [x for x in dict.fromkeys(cands) if x not in refs and len(scores[x]) >= 2]
    cands.sort(key=lambda x: -(search.get(x) if search.get(x) is not None else -math.inf))
    if not refs or not cands:
        return None
    looks = conf.get("looks") if wanted == conf.get("task") and isinstance(conf.get("looks"), int) else 1
    try:
        return confirm_scores(scores, cands, refs, alpha=alpha, task=wanted, search_scores=search,
                              looks=max(1, looks))
    except VerdictError:
        return None


def references(result: Confirmed) -> list[str]:
    """The references of a verdict, in order."""
    return list(dict.fromkeys(c.against for c in result.comparisons))


def by_expression(result: Confirmed) -> dict[str, dict[str, str]]:
    """expression -> {reference: verdict word}."""
    out: dict[str, dict[str, str]] = {}
    for c in result.comparisons:
        out.setdefault(c.expression, {})[c.against] = c.verdict.value
    return out


def attach(board: list[Any], result: Confirmed | None) -> None:
    """Fill each confirmed entry's ``vs`` (reference -> verdict word)."""
    if result is None:
        return
    found = by_expression(result)
    for e in board:
        if e.role != Role.REFERENCE and e.expression in found:
            e.vs = dict(found[e.expression])


def comparison_lines(result: Confirmed, expression: str) -> list[str]:
    """The comparisons of one candidate as text lines (``show``)."""
    out = []
    for c in result.comparisons:
        if c.expression == expression:
            out.append(f"vs {c.against}: mean diff {c.mean_diff:+.4f} [{c.ci_low:+.4f}, {c.ci_high:+.4f}] "
                       f"p_adj {c.p_adjusted:.4f} ({c.n} seeds): {c.verdict.value}")
    return out


def errorbar_figure(result: Confirmed) -> bytes:
    """Each difference (candidate − reference) with its 95 % interval, a PNG."""
    from actsearch.results.plots import _figure, _png, _short

    comps = list(result.comparisons)
    fig, (ax,) = _figure(1, width=9.0, height=max(2.2, 0.45 * len(comps) + 1.2))
    colours = {Verdict.BETTER: "tab:green", Verdict.WORSE: "tab:red", Verdict.NO_CLEAR_DIFFERENCE: "tab:gray"}
    for i, c in enumerate(comps):
        lo = c.mean_diff - c.ci_low if math.isfinite(c.ci_low) else 0.0
        hi = c.ci_high - c.mean_diff if math.isfinite(c.ci_high) else 0.0
        ax.errorbar([c.mean_diff], [i], xerr=[[lo], [hi]], fmt="o", color=colours[c.verdict], capsize=3)
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(comps)))
    ax.set_yticklabels([_short(f"{c.expression} − {c.against}", 50) for c in comps])
    ax.invert_yaxis()
    ax.set_xlabel("score difference (candidate − reference), 95 % interval")
    ax.set_title(f"confirmation on {_short(result.task)}: green better, red worse, gray no clear difference")
    return _png(fig)
