"""The ranked leaderboard of a run: one row per distinct function, in four formats.

Candidate records from the run store are grouped by fingerprint (a record marked ``alias_of``
joins the group of the record it aliases); each group becomes one :class:`Entry` whose score is
that of its best evaluated record and whose ``aliases`` lists the other texts found for the same
function. One rule ranks them (:func:`rank_key`, also what a pipeline's re-scoring phases rank
by): the candidates that finished (status ``ok``) by score (higher first; ties: smaller std, then
earlier id), then the candidates stopped early (status ``stopped``: successive halving or an
early-stopping scheduler stopped them at a rung; their score is the one at that rung), by score among
themselves, so a partial score never outranks a full one. ``steps`` is the step a candidate reached
(``metrics["steps"]``, the mean over its seeds; None where the task does not say). Reference
functions (relu, gelu, swish) evaluated on the same task are shown in place, unranked. Failed
candidates are listed after the ranked ones only when asked for.
Validation runs (role ``validation``) of the same function fill the ``val_*`` columns. A candidate
proposed by the ``surrogate`` searcher carries the score it was predicted before training
(``metrics["predicted"]``, ``metrics["predicted_spread"]``) in ``predicted`` / ``predicted_spread``.
A ``panel:`` task's per-member scores (``metrics["panel.score/TASK"]``, ``["panel.z/TASK"]``) fill
``panel`` and ``panel_z``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import fields
from typing import Any

from actsearch.evaluators.result import OK, PANEL_SCORE, PANEL_Z, Status
from actsearch.results import formats
from actsearch.results.entry import Entry
from actsearch.results.records import REFERENCES, CandidateRecord, Role

RANKED = (OK, Status.STOPPED)  # the statuses that get a rank (stopped rows after every finished one)


class Leaderboard(list):
    """A list of :class:`Entry` with conversions for pandas and the output formats; ``notes``: lines the
    table and Markdown forms print above the rows (a smoke run's banner: :mod:`actsearch.results.banner`)."""

    def __init__(self, entries: Iterable[Entry] = (), notes: Iterable[str] = ()) -> None:
        super().__init__(entries)
        self.notes = list(notes)

    def to_records(self) -> list[dict[str, Any]]:
        return [e.to_dict() for e in self]

    def to_pandas(self) -> Any:
        """A ``pandas.DataFrame`` with one row per entry (pandas must be installed)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("Leaderboard.to_pandas() needs pandas (pip install pandas)") from None

        names = [f.name for f in fields(Entry) if f.name != "vs" or any(e.vs for e in self)]
        return pd.DataFrame(self.to_records(), columns=names)

    def format(self, fmt: str = "table", *, width: int = 160) -> str:
        """Render as ``table`` (rich), ``csv``, ``json`` or ``markdown`` text."""
        return formats.render(self, fmt, width=width, notes=self.notes)


def _finite(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _mean_metric(rec: Any, key: str) -> float | None:
    """A metric of the record, or the mean of the per-seed values when only those exist."""
    value = _finite((rec.metrics or {}).get(key))
    if value is not None:
        return value
    vals = [_finite((r.get("metrics") or {}).get(key)) for r in (rec.runs or []) if isinstance(r, dict)]
    vals = [v for v in vals if v is not None]
    return sum(vals) / len(vals) if vals else None


def _panel(rec: Any, prefix: str) -> dict[str, float]:
    """A panel task's per-member values (metric keys ``prefix + task``), in the panel's order."""
    keys = [k for k in (rec.metrics or {}) if k.startswith(prefix)]
    if not keys:
        for r in rec.runs or []:
            keys += [k for k in (r.get("metrics") or {} if isinstance(r, dict) else {}) if k.startswith(prefix)
                     and k not in keys]
    out = {k[len(prefix):]: _mean_metric(rec, k) for k in keys}
    return {k: v for k, v in out.items() if v is not None}


def _n_seeds(rec: Any) -> int:
    seeds = rec.seeds
    if isinstance(seeds, (list, tuple)):
        return len(seeds)
    if isinstance(seeds, int):
        return seeds
    return len(rec.runs or [])


def rank_key(row: Any) -> tuple:
    """The one ranking rule, for leaderboard entries and stored records alike (anything with
    ``status``, ``score``, ``score_std`` and ``id``): finished rows before rows stopped early, each by
    score, higher first; ties: smaller std, then earlier id."""
    return (row.status == Status.STOPPED, -(_finite(row.score) or 0.0), _finite(row.score_std) or 0.0,
            _sortable_id(row.id))


def _steps(rec: Any) -> int | None:
    """The training step the record's seeds reached (their mean, rounded), None where not stored."""
    steps = _mean_metric(rec, "steps")
    return None if steps is None else int(round(steps))


def _order(rec: Any) -> tuple:
    return (str(rec.created_at or ""), _sortable_id(rec.id))


def _sortable_id(v: Any) -> tuple:
    return (0, v, "") if isinstance(v, (int, float)) else (1, 0, str(v))


def reference_name(rec: CandidateRecord, ref_prints: dict[str, str]) -> str | None:
    """The library name (``relu``, ``swish`` ...) when the row is a reference or computes one."""
    if rec.reference is not None:
        return rec.reference
    fingerprint = rec.fingerprint
    for name, fp in ref_prints.items():
        if fingerprint and fp == fingerprint:
            return name
    return None


@functools.lru_cache(maxsize=1)
def reference_fingerprints() -> dict[str, str]:
    """Fingerprints of the reference functions (empty when the grammar cannot provide them)."""
    out: dict[str, str] = {}
    try:
        from actsearch.grammar.library import module_only, resolve

        for name in REFERENCES:
            if not module_only(name):
                out[name] = resolve(name).fingerprint
    except Exception:
        pass
    return out


def _best(recs: list[Any]) -> Any:
    """The record that speaks for a group: evaluated, ok, most seeds, latest."""
    scored = [r for r in recs if r.alias_of is None and r.status is not None] or recs
    return max(scored, key=lambda r: (r.status == OK, _n_seeds(r), _order(r)))


def _is_reference(rec: Any) -> bool:
    """A reference row: stored as one, or a validation row of a reference by name."""
    return rec.reference is not None


def _group(records: list[Any]) -> list[list[Any]]:
    """Rows of the same function together (references apart from candidates, aliases with their row)."""
    by_id = {r.id: r for r in records}

    def key(rec: Any, depth: int = 0) -> str:
        target = rec.alias_of
        if target is not None and target in by_id and depth < 20:
            return key(by_id[target], depth + 1)
        fp = rec.fingerprint
        kind = "ref" if _is_reference(rec) else "cand"
        return f"{kind}:fp:{fp}" if fp else f"{kind}:id:{rec.id}"

    groups: dict[str, list[Any]] = {}
    for rec in sorted(records, key=_order):
        groups.setdefault(key(rec), []).append(rec)
    return list(groups.values())


def _entry(recs: list[Any], ref_prints: dict[str, str]) -> tuple[Entry, bool]:
    """The entry of one group, and whether the group holds a search candidate."""
    best = _best(recs)
    search = [r for r in recs if not _is_reference(r)]
    texts = []
    for r in recs:
        text = str(r.expression or "")
        if text and text != best.expression and text not in texts:
            texts.append(text)
    ref = None
    for r in recs:
        ref = ref or reference_name(r, ref_prints)
    return Entry(
        rank=None,
        id=best.id,
        expression=str(best.expression or ""),
        canonical=best.canonical,
        params=dict(best.params or {}),
        score=_finite(best.score),
        score_std=_finite(best.score_std),
        seeds=_n_seeds(best),
        status=Status(best.status or Status.PENDING),
        steps=_steps(best),
        task=best.task_label,
        role=Role.REFERENCE if not search else Role(best.role or Role.SEARCH),
        searcher=best.searcher,
        fingerprint=best.fingerprint,
        reference=ref,
        aliases=texts,
        dnr=_mean_metric(best, "dnr"),
        pd=_mean_metric(best, "pd"),
        predicted=_finite((best.metrics or {}).get("predicted")),
        predicted_spread=_finite((best.metrics or {}).get("predicted_spread")),
        error=best.error,
        panel=_panel(best, PANEL_SCORE),
        panel_z=_panel(best, PANEL_Z),
    ), bool(search)


def build(
    records: Iterable[Any],
    *,
    task: str | None = None,
    top: int | None = None,
    include_failed: bool = False,
    properties: bool = True,
) -> Leaderboard:
    """Rank ``records`` (the store's typed ``CandidateRecord``s) into a :class:`Leaderboard`.

    ``task`` selects the records ranked (default: the task of most search records); validation
    records of other tasks (or of the role ``validation``) fill the validation columns.
    """
    records = list(records)
    task = task or main_task(records)
    main = [r for r in records if r.task_label == task and r.role not in (Role.VALIDATION, Role.CONFIRMATION)]
    if not main:  # a task that was only validated: rank its validation runs
        main = [r for r in records if r.task_label == task and r.role != Role.CONFIRMATION]
    main_ids = {id(r) for r in main}
    ref_prints = reference_fingerprints()
    ranked, refs, failed = [], [], []
    for group in _group(main):
        entry, is_search = _entry(group, ref_prints)
        if entry.status not in RANKED or entry.score is None:
            failed.append(entry)  # a reference that failed too: `--all` shows it
        elif is_search:
            ranked.append(entry)
        elif entry.status == OK:
            refs.append(entry)
    ranked.sort(key=rank_key)
    refs.sort(key=rank_key)
    for i, e in enumerate(ranked, 1):
        e.rank = i
    shown = ranked[:top] if top is not None else ranked
    last = shown[-1] if shown and top is not None and len(ranked) > top else None
    # a reference stays in place when it ranks above the last row shown (every one does above a stopped row)
    above = [last is None or rank_key(r)[:2] <= rank_key(last)[:2] for r in refs]
    in_place = [r for r, up in zip(refs, above, strict=True) if up]
    below = [r for r, up in zip(refs, above, strict=True) if not up]
    rows = sorted(shown + in_place, key=rank_key) + below
    if include_failed:
        failed.sort(key=lambda e: _sortable_id(e.id))
        rows += failed
    board = Leaderboard(rows)
    _attach_validation(board, [r for r in records if id(r) not in main_ids])
    if properties:
        for e in board:
            _fill_properties(e)
    return board


def main_task(records: list[Any]) -> str | None:
    """The task most search records were evaluated on (the run's search task)."""
    counts: dict[str, int] = {}
    for r in records:
        if r.role == Role.SEARCH and r.task:
            counts[r.task_label] = counts.get(r.task_label, 0) + 1
    if not counts:
        for r in records:
            if r.task:
                counts[r.task_label] = counts.get(r.task_label, 0) + 1
    return max(counts, key=lambda t: counts[t]) if counts else None


def _attach_validation(board: Leaderboard, others: list[Any]) -> None:
    vals = sorted((r for r in others if r.role == Role.VALIDATION), key=_order)
    if not vals:
        return
    vtask = vals[-1].task_label  # the most recent validation task
    ref_prints = reference_fingerprints()

    def key(rec: Any) -> tuple:
        if _is_reference(rec):
            return ("ref", reference_name(rec, ref_prints))
        return ("cand", rec.fingerprint)

    latest = {key(r): r for r in vals if r.task_label == vtask}
    for e in board:
        rec = latest.get(("ref", e.reference) if e.role == Role.REFERENCE else ("cand", e.fingerprint))
        if rec is not None:
            e.val_task, e.val_seeds = vtask, _n_seeds(rec)
            e.val_score = _finite(rec.score)
            e.val_std = _finite(rec.score_std)


def _fill_properties(e: Entry) -> None:
    """Complexity and key shape properties from the grammar (left None when unavailable)."""
    try:
        from actsearch.grammar.library import resolve

        act = resolve(e.expression, e.params)
        e.complexity = act.complexity
        props = act.properties()
        e.monotonic = props.get("monotonic")
        e.bounded_below = props.get("bounded_below")
        e.linear = props.get("linear")
        e.gain = _finite(props.get("gain"))
    except Exception:
        pass
