"""Replay task ``table:FILE``: a candidate's score is looked up, by fingerprint, in a scored table.

The table is a CSV or JSON file of already scored candidates — for example every candidate of an
exhaustive run — so that searchers can be compared in seconds instead of hours. Columns (CSV
header, or keys of each JSON object; JSON may be a list or ``{"rows": [...]}``)::

    expression  text in the expression language        (required)
    params      JSON object of initial parameter values  (optional, default {})
    fingerprint the Activation's fingerprint            (optional: computed from expression)
    status      ok / diverged / error / timeout / invalid (optional, default ok)
    score       the task's score                       (required for ok rows)
    wall_s      seconds the original evaluation took    (optional)
    score_std   spread of the score over seeds          (optional; a panel reads relu's as its unit)

A candidate whose fingerprint is not in the table is ``invalid``. A table has no network: the
pre-screen and features use the Gaussian fallback (the base's ``probe()``). Stored fingerprints are used
first; on a miss, fingerprints are recomputed once from the expressions, so a table outlives a
change of the fingerprint scheme.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actsearch.errors import UserError
from actsearch.evaluators.resolve import TABLE_PREFIX
from actsearch.evaluators.result import INVALID, OK, STATUSES, EvalResult, Status
from actsearch.evaluators.task import Task


class TableError(UserError):
    """A missing or malformed score table."""


@dataclass
class TableConfig:
    path: str  # the scored table (CSV or JSON)
    rows: int = 0  # number of rows read


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """The table's rows as dicts (params parsed, score a float, status checked)."""
    path = Path(path)
    if not path.is_file():
        raise TableError(f"no score table {str(path)!r}")
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_text())
            raw = data.get("rows", []) if isinstance(data, dict) else data
        else:
            with path.open(newline="") as fh:
                raw = list(csv.DictReader(fh))
    except (OSError, ValueError, csv.Error) as err:
        raise TableError(f"{path}: cannot read score table: {err}") from None
    rows = []
    for n, row in enumerate(raw, 1):
        try:
            params = row.get("params") or {}
            params = json.loads(params) if isinstance(params, str) else dict(params)
            status = (row.get("status") or OK).strip()
            score = row.get("score")
            score = float(score) if score not in (None, "") else 0.0
            if status not in STATUSES or not row.get("expression"):
                raise ValueError(f"status {status!r} / expression {row.get('expression')!r}")
        except (AttributeError, TypeError, ValueError) as err:
            raise TableError(f"{path}: row {n}: {err}") from None
        rows.append(
            {
                "expression": row["expression"],
                "params": {str(k): float(v) for k, v in params.items()},
                "fingerprint": row.get("fingerprint") or None,
                "status": Status(status),
                "score": score if math.isfinite(score) else 0.0,
                "wall_s": float(row.get("wall_s") or 0.0),
                "score_std": float(row.get("score_std") or 0.0),
            }
        )
    return rows


class TableTask(Task):
    """Scores candidates by fingerprint lookup in a table of scored candidates."""

    def __init__(self, path: str | Path) -> None:
        self.rows = read_rows(path)
        super().__init__(f"{TABLE_PREFIX}{path}", TableConfig(path=str(path), rows=len(self.rows)))
        self._by_fp = {r["fingerprint"]: r for r in self.rows if r["fingerprint"]}
        self._recomputed = False

    def __repr__(self) -> str:
        return f"TableTask({self.config.path!r})"

    def lookup(self, fingerprint: str) -> dict[str, Any] | None:
        """The row for ``fingerprint``, or None."""
        row = self._by_fp.get(fingerprint)
        if row is None and not self._recomputed:
            from actsearch.grammar import parse

            self._recomputed = True
            for r in self.rows:
                try:
                    self._by_fp.setdefault(parse(r["expression"], **r["params"]).fingerprint, r)
                except UserError:
                    continue
            row = self._by_fp.get(fingerprint)
        return row

    def evaluate_seed(
        self,
        act: Any,
        seed: int,
        *,
        report: Any = None,
        threads: int = 1,
        time_limit_s: float | None = None,
    ) -> EvalResult:
        """The table's result for ``act`` (an Activation, expression text, a library name or a
        :class:`~actsearch.evaluators.candidate.Candidate` of one); missing → invalid."""
        fingerprint = _fingerprint(act)
        row = None if fingerprint is None else self.lookup(fingerprint)
        if row is None:
            return EvalResult(INVALID, 0.0, seed, 0.0, {}, "not in the score table")
        ok = row["status"] == OK
        if report is not None and ok:
            report(1, row["score"])
        return EvalResult(row["status"], row["score"] if ok else 0.0, seed, row["wall_s"], {"table": True})

    def run_seed(self, act: Any, seed: int, **kw: Any) -> tuple[EvalResult, None]:
        return self.evaluate_seed(act, seed, **kw), None

    def with_settings(self, **overrides: Any) -> TableTask:
        """A table takes no settings."""
        if overrides:
            raise TableError(f"task {self.name} takes no settings; got {', '.join(overrides)}")
        return self


def _fingerprint(act: Any) -> str | None:
    """The fingerprint of what a caller hands the table (None for a module without an expression)."""
    from actsearch.grammar import library

    if hasattr(act, "factory") and hasattr(act, "label"):  # a Candidate: its Activation, else its label
        if act.activation is not None:
            return act.activation.fingerprint
        try:
            return _fingerprint(act.label)
        except UserError:  # a module factory without an expression (nn.ReLU): not in any table
            return None
    if isinstance(act, str):
        if library.module_only(act):  # no expression: not in any table
            return None
        act = library.resolve(act)
    return getattr(act, "fingerprint", None)
