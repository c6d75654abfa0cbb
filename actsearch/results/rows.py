"""Row builders of the run store: a trial's row in stored (encoded) form, the columns a result sets,
and the merge of more seeds into a stored row. Both backends write these rows alike
(:mod:`actsearch.results.base`); the schema and the typed record are :mod:`actsearch.results.records`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from actsearch.evaluators.result import CandidateResult, EvalResult, Status
from actsearch.results import records as R
from actsearch.results.records import CandidateRecord, Role, TrialState


def merged_row(old: CandidateRecord, result: CandidateResult, seeds: Sequence[int]) -> dict[str, Any]:
    """The columns to update when ``result`` (for ``seeds``) adds runs to the stored ``old`` row:
    seeds already stored are ignored; status, score and std are recomputed, numeric metrics are
    averaged weighted by seeds."""
    have = list(old.seeds)
    runs = [EvalResult.from_dict(r) for r in old.runs]
    for seed, run in zip(seeds, result.runs, strict=False):
        if seed not in have:
            have.append(int(seed))
            runs.append(run)
    metrics = dict(old.metrics)
    n_old = len(old.seeds)
    for key, value in result.metrics.items():
        prev = metrics.get(key)
        if isinstance(value, (int, float)) and isinstance(prev, (int, float)) and len(have) > n_old:
            metrics[key] = (prev * n_old + value * (len(have) - n_old)) / len(have)
        else:
            metrics.setdefault(key, value)
    merged = CandidateResult.from_runs(runs, metrics)
    return {"status": old.status if old.status == Status.STOPPED else merged.status, "score": R.num(merged.score),
            "score_std": R.num(merged.score_std), "seeds": R.to_json(have), "metrics": R.to_json(merged.metrics),
            "wall_s": R.num(merged.wall_s), "error": merged.error,
            "runs": R.to_json([r.to_dict() for r in runs])}


def result_columns(result: CandidateResult, *, status: Status | None = None, canonical: str | None = None,
                   retries: int = 0, metrics: dict[str, Any] | None = None) -> dict[str, Any]:
    """The columns a finished trial's ``result`` sets (``metrics`` are merged under the result's)."""
    res = result.to_dict()
    cols = {"state": TrialState.DONE, "status": status or res["status"], "score": R.num(res["score"]),
            "score_std": R.num(res["score_std"]), "runs": R.to_json(res["runs"]),
            "metrics": R.to_json({**(metrics or {}), **res["metrics"]}), "wall_s": R.num(res["wall_s"]),
            "error": res["error"], "retries": int(retries)}
    if canonical is not None:
        cols["canonical"] = canonical
    return cols


def new_row(expression: str, fingerprint: str, *, task: str, role: Role = Role.SEARCH,
            settings: dict[str, Any] | None = None, trial: int | None = None, state: TrialState = TrialState.PENDING,
            canonical: str | None = None, params: dict[str, float] | None = None, reference: str | None = None,
            searcher: str | None = None, step: int | None = None, seeds: Sequence[int] = (),
            metrics: dict[str, Any] | None = None, alias_of: int | None = None) -> dict[str, Any]:
    """A row without a result (status ``pending``), in stored (encoded) form."""
    if role not in Role.values():
        raise ValueError(f"role must be one of {Role.values()}, got {str(role)!r}")
    return {"trial": trial, "state": state, "expression": expression, "canonical": canonical,
            "fingerprint": fingerprint, "params": R.to_json(params or {}), "alias_of": alias_of,
            "reference": reference, "searcher": searcher, "step": step, "task": task,
            "settings": R.settings_key(settings), "role": Role(role), "status": Status.PENDING, "score": None,
            "score_std": None, "seeds": R.to_json([int(s) for s in seeds]), "runs": "[]",
            "metrics": R.to_json(metrics or {}), "wall_s": None, "error": None, "retries": 0,
            "created_at": R.now()}
