"""The learned constants of a stored candidate, folded over its seeds, and the line that says them.

Each seed run stores, per learnable constant, the mean and sd over the network's activation
instances at the end of training (``learned.beta``, ``learned.beta.sd``: see
:mod:`actsearch.evaluators.learned`). :func:`learned_constants` folds the seeds that finished:
the mean of the seed means, the spread over layers (root mean square of the seeds' sds), and the
spread over seeds (population sd and range of the seed means). ``show`` and the report print
:meth:`Learned.text` beside the constant's initial value; the leaderboard leaves them out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from actsearch.evaluators.result import LEARNED, LEARNED_SD, OK, EvalResult
from actsearch.grammar.activation import MAX_PARAM

SHOWN_CONSTANTS = 32  # most constants folded and shown per candidate (a crafted store may hold any number)


@dataclass(frozen=True)
class Learned:
    """One constant's values at the end of training over a candidate's seeds."""

    name: str
    mean: float  # mean over seeds of each seed's mean over layers
    layers_sd: float  # spread over layers: root mean square over seeds of each seed's sd
    seeds: int  # seeds that finished and stored the constant
    seeds_sd: float  # spread over seeds: population sd of the seed means (0 for one seed)
    low: float  # smallest seed mean
    high: float  # largest seed mean

    def text(self, initial: float | None = None) -> str:
        """``learned beta: 1.23 ± 0.05 over layers, averaged over 3 seeds (spread over seeds: sd
        0.02, 1.21..1.25); initial 1``."""
        line = f"learned {self.name}: {self.mean:.4g} ± {self.layers_sd:.3g} over layers, averaged over " \
               f"{self.seeds} seed{'s' if self.seeds != 1 else ''}"
        if self.seeds > 1:
            line += f" (spread over seeds: sd {self.seeds_sd:.3g}, {self.low:.4g}..{self.high:.4g})"
        if isinstance(initial, (int, float)) and not isinstance(initial, bool):
            line += f"; initial {initial:.4g}"
        return line

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _number(value: Any) -> float | None:
    """A stored value as a float within a float32 constant's range (else None: a crafted store's)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not abs(value) <= MAX_PARAM:
        return None
    return float(value)


def learned_constants(runs: Iterable[Any]) -> dict[str, Learned]:
    """Per constant name (the first :data:`SHOWN_CONSTANTS`), its values folded over the seed runs
    (stored dicts or ``EvalResult``s) that finished ``ok`` and stored it; empty for a candidate
    without learnable constants."""
    means: dict[str, list[float]] = {}
    sds: dict[str, list[float]] = {}
    for run in runs if isinstance(runs, (list, tuple)) else ():
        data = run.to_dict() if isinstance(run, EvalResult) else run
        metrics = data.get("metrics") if isinstance(data, dict) else None
        if not isinstance(metrics, dict) or data.get("status") != OK:
            continue
        for key, value in metrics.items():
            if not isinstance(key, str) or not key.startswith(LEARNED) or key.endswith(LEARNED_SD):
                continue
            mean = _number(value)
            name = key[len(LEARNED):]
            if mean is None or (name not in means and len(means) >= SHOWN_CONSTANTS):
                continue
            means.setdefault(name, []).append(mean)
            sds.setdefault(name, []).append(_number(metrics.get(key + LEARNED_SD)) or 0.0)
    out = {}
    for name, values in means.items():
        n = len(values)
        mean = math.fsum(values) / n
        out[name] = Learned(name, mean, math.sqrt(math.fsum(s * s for s in sds[name]) / n), n,
                            math.sqrt(math.fsum((v - mean) ** 2 for v in values) / n), min(values), max(values))
    return out


def learned_lines(runs: Iterable[Any], params: dict[str, Any] | None = None) -> list[str]:
    """One :meth:`Learned.text` line per constant, with its initial value from ``params``."""
    params = params or {}
    return [c.text(params.get(name)) for name, c in learned_constants(runs).items()]
