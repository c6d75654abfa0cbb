"""Where a run's time went: set-up, pre-screen, training per candidate, and the rest (waiting).

:func:`timings` reads a run's metadata and rows (nothing else; a run still going is read as it
stands):

- ``setup_s`` / ``prescreen_s``: stored by the search loop in the metadata (key ``timings``) — the
  searcher's set-up (a ``surrogate``'s features of its pool, with its plan under ``setup``) and the
  pre-screen's initial passes, in the driver, summed over the processes that ran the search;
- training: the trained rows' ``wall_s`` (references included) — count, total, mean and median;
- ``wall_s``: from the run's start (its ``created_at``, else its first row) to the last row's end
  (``created_at`` of a row is when its trial was handed out, so its end is that plus its ``wall_s``);
- ``other_s``: the wall time not explained by the set-up, the pre-screen and training spread over
  ``workers`` (the run's setting): Ray's start, waiting for a free worker, the driver's own work.
  A run resumed after a pause counts the pause here too (``resumed`` says so).
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from actsearch.results.records import CandidateRecord


@dataclass
class Timings:
    """Seconds a run spent, by where (see the module docstring); None: not known."""

    setup_s: float
    prescreen_s: float
    trainings: int
    train_total_s: float
    train_mean_s: float | None
    train_median_s: float | None
    wall_s: float | None
    workers: int
    other_s: float | None
    resumed: bool = False
    setup: dict[str, Any] = field(default_factory=dict)  # the searcher's set-up plan, as stored

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}

    def lines(self) -> list[str]:
        """The view as short lines of text (``actsearch leaderboard --all``, the report's settings)."""
        def s(v: float | None) -> str:
            return "?" if v is None else f"{v:.1f} s" if v < 600 else f"{v / 60:.1f} min"

        out = [f"set-up (searcher): {s(self.setup_s)}" + _plan(self.setup),
               f"pre-screen: {s(self.prescreen_s)}",
               f"training: {self.trainings} trainings, {s(self.train_total_s)} in all"
               + (f", {s(self.train_mean_s)} mean, {s(self.train_median_s)} median" if self.trainings else "")]
        if self.wall_s is not None:
            out.append(f"wall clock: {s(self.wall_s)} with {self.workers} worker{'s' if self.workers != 1 else ''};"
                       f" other (start-up, waiting, the driver): {s(self.other_s)}"
                       + (" (the run was resumed: pauses count here)" if self.resumed else ""))
        return out


def _plan(setup: dict[str, Any]) -> str:
    mode, pool = setup.get("mode"), setup.get("pool")
    if not isinstance(mode, str) or not isinstance(pool, int):
        return ""
    probed = setup.get("probed")
    proxy = "" if not isinstance(probed, int) else ", the proxy on all" if probed == pool \
        else f", the proxy on {probed}" if probed else ", no proxy"
    return f" ({mode}: {pool} candidates featurised{proxy})"


def _number(value: Any) -> float:
    """A stored number of seconds (0 when missing, negative or not a finite number)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
    return float(value) if ok else 0.0


def with_setup(stored: Any, setup_s: float, prescreen_s: float) -> dict[str, Any]:
    """The ``timings`` metadata of a run: what earlier processes stored plus this one's set-up and
    pre-screen seconds (a malformed stored value counts as nothing)."""
    base = stored if isinstance(stored, dict) else {}
    return {**base, "setup_s": round(_number(base.get("setup_s")) + setup_s, 3),
            "prescreen_s": round(_number(base.get("prescreen_s")) + prescreen_s, 3)}


def _when(text: Any) -> dt.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.timezone.utc)


def timings(meta: dict[str, Any], records: list[CandidateRecord]) -> Timings:
    """Where the time of the run with this metadata and these rows went (see the module docstring)."""
    stored = meta.get("timings")
    stored = stored if isinstance(stored, dict) else {}
    spec = meta.get("spec") if isinstance(meta.get("spec"), dict) else {}
    workers = spec.get("workers")
    workers = workers if isinstance(workers, int) and not isinstance(workers, bool) and workers > 0 else 1
    walls = [_number(r.wall_s) for r in records if r.trained and _number(r.wall_s) > 0]
    total = sum(walls)
    starts = [w for w in (_when(r.created_at) for r in records) if w is not None]
    ends = [w + dt.timedelta(seconds=_number(r.wall_s)) for r in records
            if (w := _when(r.created_at)) is not None]
    begin = _when(meta.get("created_at"))
    first = min([*starts, *([begin] if begin is not None else [])], default=None)
    wall = (max(ends) - first).total_seconds() if ends and first is not None else None
    setup_s, prescreen_s = _number(stored.get("setup_s")), _number(stored.get("prescreen_s"))
    other = None if wall is None else max(0.0, wall - setup_s - prescreen_s - total / workers)
    setup = stored.get("setup")
    return Timings(setup_s=setup_s, prescreen_s=prescreen_s, trainings=len(walls), train_total_s=total,
                   train_mean_s=statistics.fmean(walls) if walls else None,
                   train_median_s=statistics.median(walls) if walls else None,
                   wall_s=wall, workers=workers, other_s=other, resumed="resumed_at" in meta,
                   setup=setup if isinstance(setup, dict) else {})


def of_store(store: Any) -> Timings:
    """:func:`timings` of an open store (a run directory's or one in memory)."""
    return timings(store.meta(), store.candidates())


def store_setup(store: Any, base: dict[str, Any] | None, setup_s: float, prescreen_s: float,
                searcher: str | None = None, detail: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Write a run's ``timings`` metadata: what earlier processes stored (``base``, read from the
    store the first time) plus this process's searcher set-up and pre-screen seconds, and the
    searcher's set-up ``detail``. Returns the base to pass next time; nothing is written while both
    times are 0."""
    if not setup_s and not prescreen_s:
        return base
    if base is None:
        base = store.meta().get("timings") or {}
    out = with_setup(base, setup_s, prescreen_s)
    if detail:
        out["setup"] = {"searcher": searcher, **detail}
    store.init_run({"timings": out})
    return base
