"""The held-out table of a ``discover`` run: search score, per-architecture held-out scores, rank.

``discover_table(store, search=(TASK, SETTINGS), held_out=(PANEL, SETTINGS))`` reads the rows a
discover run stored — the search panel's (role ``search`` and ``reference``) and the held-out
panel's (role ``validation``) — and returns ``{"candidates": [...], ...}``, best first. Each
candidate (the validated search candidates and the references relu, swish, gelu alike) has:

- ``expression`` (the expression language) and ``params`` (initial values of its learnable
  constants); ``reference`` (its library name, or null);
- ``search``: its score on the search panel (the panel's mean z over its members, averaged over
  the seeds), its sd over the seeds (population sd, the leaderboard's ±) and the seeds;
- ``held_out``: per held-out architecture, the mean and sample sd of its score over the seeds, and
  z = (mean − ReLU's mean) / max(ReLU's sd, min_sd) with ReLU's reference as the panel used it;
- ``held_out_score``: the minimum of those z's — the rank key: > 0 is above ReLU's mean on every
  held-out architecture — and ``held_out_mean_z`` (their mean);
- ``vs``: per reference and architecture, the verdict of the paired comparison below;
- ``learned``: per learnable constant, where it ended after training on the held-out panel (mean
  over seeds, spread over layers and over seeds: :class:`~actsearch.results.learned.Learned`), so
  a reader sees whether the networks wanted a perturbation at all (β → 0 is the base function).

The rank key only orders the table; what is better is decided by ``comparisons``: every validated
candidate against every reference on every held-out architecture, paired by seed (the held-out
panel trains all of them on the same seeds), Holm-corrected over the whole family
(:func:`actsearch.results.verdict.compare_pairs`), each with its ``task`` (the architecture); and
``summary``, what they found in words (:func:`actsearch.results.findings.in_words`).

A candidate that failed on the held-out panel (diverged, error …) has its status and error, no
held-out scores, and ranks last.
"""

from __future__ import annotations

import json
import os
import statistics
from pathlib import Path
from typing import Any

from actsearch.evaluators.panel import REF_MEAN, REF_SD
from actsearch.evaluators.result import OK, PANEL_SCORE
from actsearch.results.findings import in_words
from actsearch.results.learned import learned_constants
from actsearch.results.records import Role
from actsearch.results.verdict import DEFAULT_ALPHA, compare_pairs

RANK_BY = "held_out_score = min over the held-out architectures of (mean − ReLU mean) / ReLU sd"


def _members(task: str) -> list[str]:
    from actsearch.evaluators.reference import parse_reference

    return list(parse_reference(task).member_names)


def _per_architecture(rec: Any, members: list[str], min_sd: float) -> dict[str, dict[str, float]]:
    """Per member: mean, sd, seeds and z; empty unless every seed finished ok on every member."""
    runs = rec.runs
    if not runs or any(run.get("status") != OK or PANEL_SCORE + members[-1] not in run.get("metrics", {})
                       for run in runs):
        return {}
    out = {}
    for name in members:
        scores = [run["metrics"][PANEL_SCORE + name] for run in runs]
        ref_mean = runs[0]["metrics"][REF_MEAN + name]
        ref_sd = runs[0]["metrics"][REF_SD + name]
        mean = statistics.fmean(scores)
        out[name] = {"mean": mean, "sd": statistics.stdev(scores) if len(scores) > 1 else 0.0,
                     "seeds": len(scores), "z": (mean - ref_mean) / max(ref_sd, min_sd)}
    return out


def _by_seed(rec: Any, member: str) -> dict[int, float]:
    """seed -> the score on ``member`` of the seeds that finished ok."""
    out = {}
    for run in rec.runs:
        value = run.get("metrics", {}).get(PANEL_SCORE + member)
        if run.get("status") == OK and isinstance(run.get("seed"), int) and isinstance(value, (int, float)):
            out[run["seed"]] = float(value)
    return out


def held_out_comparisons(records: list[Any], members: list[str], alpha: float = DEFAULT_ALPHA) -> list[dict[str, Any]]:
    """Every candidate against every reference on every member, paired by seed, Holm over all."""
    refs = [r for r in records if r.reference and r.status == OK]
    cands = [r for r in records if not r.reference and r.status == OK]
    pairs, tasks = [], []
    for c in cands:
        for ref in refs:
            for name in members:
                a, b = _by_seed(c, name), _by_seed(ref, name)
                if len(set(a) & set(b)) >= 2:
                    pairs.append((c.expression, ref.reference, a, b))
                    tasks.append(name)
    if not pairs:
        return []
    return [{**comp.to_json(), "task": task}
            for comp, task in zip(compare_pairs(pairs, alpha=alpha), tasks, strict=True)]


def discover_table(store: Any, *, search: tuple[str, dict[str, Any]], held_out: tuple[str, dict[str, Any]],
                   wall_s: dict[str, float] | None = None, min_sd: float = 0.005,
                   alpha: float = DEFAULT_ALPHA) -> dict[str, Any]:
    """The final table of a discover run (see the module docstring)."""
    (s_task, s_settings), (h_task, h_settings) = search, held_out
    members = _members(h_task)
    min_sd = float(h_settings.get("min_sd", min_sd))
    searched = {}
    for r in store.candidates(task=s_task, settings=s_settings, include_aliases=False):
        if r.role in (Role.SEARCH, Role.REFERENCE):
            searched[r.reference or r.fingerprint] = r
    rows = []
    validated = store.candidates(task=h_task, settings=h_settings, role=Role.VALIDATION, include_aliases=False)
    for r in validated:
        s = searched.get(r.reference or r.fingerprint)
        per = _per_architecture(r, members, min_sd) if r.status == OK else {}
        rows.append({
            "expression": r.expression, "params": dict(r.params), "reference": r.reference,
            "fingerprint": r.fingerprint, "status": r.status, "error": r.error,
            "search": None if s is None else {"score": s.score, "sd": s.score_std, "seeds": len(s.seeds)},
            "held_out": per,
            "held_out_score": min(v["z"] for v in per.values()) if per else None,
            "held_out_mean_z": statistics.fmean(v["z"] for v in per.values()) if per else None,
            "learned": {name: c.to_dict() for name, c in learned_constants(r.runs).items()},
        })
    comparisons = held_out_comparisons(validated, members, alpha)
    for c in rows:
        c["vs"] = {}
        for comp in comparisons:
            if comp["expression"] == c["expression"] and not c["reference"]:
                c["vs"].setdefault(comp["against"], {})[comp["task"]] = comp["verdict"]
    rows.sort(key=lambda c: (c["held_out_score"] is None, -(c["held_out_score"] or 0.0), c["expression"]))
    seeds = max((c["n"] for c in comparisons), default=0)
    where = f"on any held-out architecture ({', '.join(members)}; {seeds} seeds, paired)"
    return {"search_task": s_task, "search_settings": s_settings, "held_out_task": h_task,
            "held_out_settings": h_settings, "architectures": members, "rank_by": RANK_BY,
            "wall_s": dict(wall_s or {}), "candidates": rows, "alpha": alpha, "comparisons": comparisons,
            "summary": in_words(comparisons, where=where) if comparisons else
            ["No held-out comparison possible: no candidate and reference finished 2 seeds in common."]}


def write_table(table: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write the table as JSON (atomically: a reader never sees half a file; never through a link)."""
    from actsearch.results.rundir import write_atomic

    return write_atomic(path, (json.dumps(table, indent=2, allow_nan=False) + "\n").encode())
