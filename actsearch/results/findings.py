"""What a family of verdicts found, in words: the sentences a pipeline ends with.

The input is comparisons as :meth:`Comparison.to_json` writes them (``expression``, ``against``,
``p_adjusted``, ``verdict``; where one family spans several tasks, each also names its ``task``).
Per reference: which candidates are better (with their Holm-adjusted p), or that none is; and how
many are worse. A ``no clear difference`` says nothing in either direction, so it is not listed
as a finding. The words are about the tasks and settings compared, nothing more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from actsearch.results.text import clip, shown

BETTER, WORSE = "better", "worse"


def _p(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return "p_adj = ?"
    return "p_adj < 0.001" if value < 0.001 else f"p_adj = {value:.2g}"


def _names(rows: Sequence[Mapping[str, Any]]) -> str:
    parts = [f"{clip(str(r['expression']), 60)} ({_p(r.get('p_adjusted'))})" for r in rows]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def in_words(comparisons: Sequence[Mapping[str, Any]], *, where: str) -> list[str]:
    """One or two sentences per reference. ``where``: the task(s), e.g. "on mnist1d (10 fresh
    seeds)" or "on any held-out architecture (a, b, c)"; a comparison's own ``task`` (when the
    family spans several) names where each difference was found."""
    refs = list(dict.fromkeys(str(c["against"]) for c in comparisons))
    candidates = list(dict.fromkeys(str(c["expression"]) for c in comparisons))
    out = []
    for ref in refs:
        rows = [c for c in comparisons if c["against"] == ref]
        for word in (BETTER, WORSE):
            found = [c for c in rows if c.get("verdict") == word]
            if not found and word == WORSE:
                continue
            if not found:
                out.append(f"No candidate is better than {ref} {where}: {len(candidates)} compared, "
                           "Holm-corrected.")
                continue
            places = list(dict.fromkeys(c.get("task") for c in found))
            for place in places:
                here = [c for c in found if c.get("task") == place]
                verb = "is" if len(here) == 1 else "are"
                at = f"on {place}" if place else where
                out.append(f"{_names(here)} {verb} {word} than {ref} {at}.")
    return out


def scope_of(doc: dict[str, Any]) -> str:
    """Where a confirmation's verdicts hold: its task, settings and seeds."""
    seeds = doc["seeds"]
    return f"on {shown(doc['task'])} ({len(seeds)} fresh seeds, {seeds[0]}..{seeds[-1]})"


def _num(value: Any, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def verdict_table(doc: dict[str, Any]) -> str:
    """A confirmation (:meth:`Confirmed.to_json`) as text: the comparisons, the winner's-curse table,
    then what it found in words."""

    seeds = doc["seeds"]
    how = "paired by seed (the task derives data order and initialisation from the seed)" if doc["paired"] \
        else "unpaired (Welch)"
    lines = [f"confirmation on {shown(doc['task'])}: seeds {seeds[0]}..{seeds[-1]} ({len(seeds)}), {how}; "
             f"alpha {doc['alpha']}, Holm-adjusted over {len(doc['comparisons'])} comparisons"
             + (f"; until decided: {doc['looks']} planned looks, each at alpha / {doc['looks']}" if "looks" in doc
                else ""), ""]
    width = max([len(shown(c["expression"])) for c in doc["candidates"]] + [10])
    lines.append(f"{'candidate':<{width}}  {'against':<8} {'n':>3} {'mean diff':>9} {'95% CI':>19} "
                 f"{'p':>7} {'p adj':>7} {'effect':>7}  verdict")
    for c in doc["comparisons"]:
        ci = f"[{_num(c['ci_low'])}, {_num(c['ci_high'])}]"
        lines.append(f"{shown(c['expression']):<{width}}  {c['against']:<8} {c['n']:>3} {_num(c['mean_diff']):>9} "
                     f"{ci:>19} {_num(c['p']):>7} {_num(c['p_adjusted']):>7} {_num(c['effect_sd'], 2):>7}  "
                     f"{c['verdict']}")
    lines += ["", "the winner's curse (search score: the seeds the search picked it on):",
              f"{'candidate':<{width}}  {'search':>8} {'confirmed mean ± sd':>20} {'overstated by':>13}"]
    for c in doc["candidates"]:
        confirmed = f"{_num(c['confirmed_mean'])} ± {_num(c['confirmed_sd'])}"
        lines.append(f"{shown(c['expression']):<{width}}  {_num(c['search_score']):>8} {confirmed:>20} "
                     f"{_num(c['overstatement']):>13}")
    lines += ["", *in_words(doc["comparisons"], where=scope_of(doc))]
    return "\n".join(lines) + "\n"


