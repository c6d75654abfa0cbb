"""The ranked leaderboard of a run: one row per distinct function, in four formats.

Candidate records from the run store are grouped by fingerprint (a record marked ``alias_of``
joins the group of the record it aliases); each group becomes one :class:`Entry` whose score is
that of its best evaluated record and whose ``aliases`` lists the other texts found for the same
function. Successful entries are ranked by score (higher first; ties: smaller std, then earlier
id). Reference functions (relu, swish) evaluated on the same task are shown in
place, unranked. Failed candidates (and those an early-stopping scheduler stopped, status ``stopped``,
whose partial scores do not compare) are listed after the ranked ones only when asked for.
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
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from actsearch.evaluators.result import PANEL_SCORE, PANEL_Z

OK = "ok"
REFERENCES = ("relu", "swish")  # baselines every leaderboard marks in place


@dataclass
class Entry:
    """One leaderboard row: a distinct function with its score, properties and validation."""

    rank: int | None  # 1-based among successful search candidates; None for references/failed
    id: Any  # the store id of the record that carries the score
    expression: str
    canonical: str | None
    params: dict[str, float]
    score: float | None
    score_std: float | None
    seeds: int
    status: str
    task: str | None = None
    role: str = "search"  # "reference" for relu/swish baselines (unranked), else the row's role
    searcher: str | None = None
    fingerprint: str | None = None
    reference: str | None = None  # "relu" / "swish" when this function is a reference
    aliases: list[str] = field(default_factory=list)  # other texts of the same function
    complexity: int | None = None
    monotonic: bool | None = None
    bounded_below: bool | None = None
    linear: bool | None = None  # affine in x (a network of it collapses to a linear model)
    gain: float | None = None
    dnr: float | None = None  # dead-neuron rate (mean over seeds)
    pd: float | None = None  # reproducibility: prediction disagreement across seeds
    predicted: float | None = None  # the surrogate's predicted score before training (None: not predicted)
    predicted_spread: float | None = None  # the spread of that prediction over the forest's trees
    error: str | None = None
    val_task: str | None = None
    val_score: float | None = None
    val_std: float | None = None
    val_seeds: int | None = None
    panel: dict[str, float] = field(default_factory=dict)  # a panel task's members: their own score (mean)
    panel_z: dict[str, float] = field(default_factory=dict)  # ... and the normalised score (ReLU = 0)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Leaderboard(list):
    """A list of :class:`Entry` with conversions for pandas and the output formats."""

    def to_records(self) -> list[dict[str, Any]]:
        return [e.to_dict() for e in self]

    def to_pandas(self) -> Any:
        """A ``pandas.DataFrame`` with one row per entry (pandas must be installed)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("Leaderboard.to_pandas() needs pandas (pip install pandas)") from None

        return pd.DataFrame(self.to_records(), columns=[f.name for f in fields(Entry)])

    def format(self, fmt: str = "table", *, width: int = 160) -> str:
        """Render as ``table`` (rich), ``csv``, ``json`` or ``markdown`` text."""
        from actsearch.results import formats

        return formats.render(self, fmt, width=width)


def _get(rec: Any, name: str, default: Any = None) -> Any:
    if isinstance(rec, dict):
        return rec.get(name, default)
    return getattr(rec, name, default)


def _finite(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _mean_metric(rec: Any, key: str) -> float | None:
    """A metric of the record, or the mean of the per-seed values when only those exist."""
    value = _finite((_get(rec, "metrics") or {}).get(key))
    if value is not None:
        return value
    vals = [_finite((_get(r, "metrics") or {}).get(key)) for r in (_get(rec, "runs") or []) if isinstance(r, dict)]
    vals = [v for v in vals if v is not None]
    return sum(vals) / len(vals) if vals else None


def _panel(rec: Any, prefix: str) -> dict[str, float]:
    """A panel task's per-member values (metric keys ``prefix + task``), in the panel's order."""
    keys = [k for k in (_get(rec, "metrics") or {}) if k.startswith(prefix)]
    if not keys:
        for r in _get(rec, "runs") or []:
            keys += [k for k in (r.get("metrics") or {} if isinstance(r, dict) else {}) if k.startswith(prefix)
                     and k not in keys]
    out = {k[len(prefix):]: _mean_metric(rec, k) for k in keys}
    return {k: v for k, v in out.items() if v is not None}


def _n_seeds(rec: Any) -> int:
    seeds = _get(rec, "seeds")
    if isinstance(seeds, (list, tuple)):
        return len(seeds)
    if isinstance(seeds, int):
        return seeds
    return len(_get(rec, "runs") or [])


def _order(rec: Any) -> tuple:
    return (str(_get(rec, "created_at") or ""), _sortable_id(_get(rec, "id")))


def _sortable_id(v: Any) -> tuple:
    return (0, v, "") if isinstance(v, (int, float)) else (1, 0, str(v))


def reference_name(expression: str, fingerprint: str | None, ref_prints: dict[str, str]) -> str | None:
    """The library name (``relu``, ``swish`` ...) when the row names or computes a reference.

    The search driver stores references with the fingerprint ``library:NAME``; validation rows
    of references carry the library name as their expression."""
    if fingerprint and fingerprint.startswith("library:"):
        return fingerprint.split(":", 1)[1]
    if expression in REFERENCES:
        return expression
    for name, fp in ref_prints.items():
        if fingerprint and fp == fingerprint:
            return name
    return None


@functools.lru_cache(maxsize=1)
def reference_fingerprints() -> dict[str, str]:
    """Fingerprints of the reference functions (empty when the grammar cannot provide them)."""
    out: dict[str, str] = {}
    try:
        from actsearch.grammar import library, parse

        for name in REFERENCES:
            text = library.expression(name)
            if text:
                out[name] = parse(text).fingerprint
    except Exception:
        pass
    return out


def _best(recs: list[Any]) -> Any:
    """The record that speaks for a group: evaluated, ok, most seeds, latest."""
    scored = [r for r in recs if _get(r, "alias_of") is None and _get(r, "status") is not None] or recs
    return max(scored, key=lambda r: (_get(r, "status") == OK, _n_seeds(r), _order(r)))


def _is_reference(rec: Any) -> bool:
    """A reference row: stored as one, or a validation row of a reference by name."""
    role = _get(rec, "role", "search")
    if role == "reference" or str(_get(rec, "fingerprint") or "").startswith("library:"):
        return True
    return role == "validation" and _get(rec, "expression") in REFERENCES


def _group(records: list[Any]) -> list[list[Any]]:
    """Rows of the same function together (references apart from candidates, aliases with their row)."""
    by_id = {_get(r, "id"): r for r in records}

    def key(rec: Any, depth: int = 0) -> str:
        target = _get(rec, "alias_of")
        if target is not None and target in by_id and depth < 20:
            return key(by_id[target], depth + 1)
        fp = _get(rec, "fingerprint")
        kind = "ref" if _is_reference(rec) else "cand"
        return f"{kind}:fp:{fp}" if fp else f"{kind}:id:{_get(rec, 'id')}"

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
        text = str(_get(r, "expression") or "")
        if text and text != _get(best, "expression") and text not in texts:
            texts.append(text)
    ref = None
    for r in recs:
        ref = ref or reference_name(str(_get(r, "expression") or ""), _get(r, "fingerprint"), ref_prints)
    return Entry(
        rank=None,
        id=_get(best, "id"),
        expression=str(_get(best, "expression") or ""),
        canonical=_get(best, "canonical"),
        params=dict(_get(best, "params") or {}),
        score=_finite(_get(best, "score")),
        score_std=_finite(_get(best, "score_std")),
        seeds=_n_seeds(best),
        status=str(_get(best, "status") or "pending"),
        task=_get(best, "task"),
        role="reference" if not search else str(_get(best, "role") or "search"),
        searcher=_get(best, "searcher"),
        fingerprint=_get(best, "fingerprint"),
        reference=ref,
        aliases=texts,
        dnr=_mean_metric(best, "dnr"),
        pd=_mean_metric(best, "pd"),
        predicted=_finite((_get(best, "metrics") or {}).get("predicted")),
        predicted_spread=_finite((_get(best, "metrics") or {}).get("predicted_spread")),
        error=_get(best, "error"),
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
    """Rank ``records`` (store ``CandidateRecord``s or dicts) into a :class:`Leaderboard`.

    ``task`` selects the records ranked (default: the task of most search records); validation
    records of other tasks (or of the role ``validation``) fill the validation columns.
    """
    records = list(records)
    task = task or main_task(records)
    main = [r for r in records if _get(r, "task") == task and _get(r, "role", "search") != "validation"]
    if not main:  # a task that was only validated: rank its validation runs
        main = [r for r in records if _get(r, "task") == task]
    main_ids = {id(r) for r in main}
    ref_prints = reference_fingerprints()
    ranked, refs, failed = [], [], []
    for group in _group(main):
        entry, is_search = _entry(group, ref_prints)
        if entry.status != OK or entry.score is None:
            if is_search:
                failed.append(entry)
        elif is_search:
            ranked.append(entry)
        else:
            refs.append(entry)
    key = lambda e: (-(e.score or 0.0), e.score_std or 0.0, _sortable_id(e.id))  # noqa: E731
    ranked.sort(key=key)
    refs.sort(key=key)
    for i, e in enumerate(ranked, 1):
        e.rank = i
    shown = ranked[:top] if top is not None else ranked
    cutoff = shown[-1].score if shown and top is not None and len(ranked) > top else -math.inf
    in_place = [r for r in refs if (r.score or 0.0) >= cutoff]
    below = [r for r in refs if (r.score or 0.0) < cutoff]
    rows = sorted(shown + in_place, key=key) + below
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
        if _get(r, "role", "search") == "search" and _get(r, "task"):
            counts[_get(r, "task")] = counts.get(_get(r, "task"), 0) + 1
    if not counts:
        for r in records:
            if _get(r, "task"):
                counts[_get(r, "task")] = counts.get(_get(r, "task"), 0) + 1
    return max(counts, key=lambda t: counts[t]) if counts else None


def _attach_validation(board: Leaderboard, others: list[Any]) -> None:
    vals = sorted((r for r in others if _get(r, "role") == "validation"), key=_order)
    if not vals:
        return
    vtask = _get(vals[-1], "task")  # the most recent validation task
    ref_prints = reference_fingerprints()

    def key(rec: Any) -> tuple:
        if _is_reference(rec):
            return ("ref", reference_name(str(_get(rec, "expression")), _get(rec, "fingerprint"), ref_prints))
        return ("cand", _get(rec, "fingerprint"))

    latest = {key(r): r for r in vals if _get(r, "task") == vtask}
    for e in board:
        rec = latest.get(("ref", e.reference) if e.role == "reference" else ("cand", e.fingerprint))
        if rec is not None:
            e.val_task, e.val_seeds = vtask, _n_seeds(rec)
            e.val_score = _finite(_get(rec, "score"))
            e.val_std = _finite(_get(rec, "score_std"))


def _fill_properties(e: Entry) -> None:
    """Complexity and key shape properties from the grammar (left None when unavailable)."""
    try:
        from actsearch.grammar import library, parse

        text = library.expression(e.expression) if e.expression in library.NAMES else e.expression
        act = parse(text or e.expression, **e.params)
        e.complexity = act.complexity
        props = act.properties()
        e.monotonic = props.get("monotonic")
        e.bounded_below = props.get("bounded_below")
        e.linear = props.get("linear")
        e.gain = _finite(props.get("gain"))
    except Exception:
        pass
