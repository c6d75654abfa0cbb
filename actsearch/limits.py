"""Bounds of settings: the training protocol's task settings, run settings (CLI values), file sizes.

A setting outside its range is refused before anything starts, with one line naming the setting,
the value and the range: a negative learning rate, a width of 0, a depth of 100,000, a NaN weight
decay or a time limit of 0 would otherwise waste (or hang) a whole run. :data:`TRAINING_SETTINGS`
holds the ranges of the settings every trained task shares (the training protocol's: steps, batch
size, learning rate, ...; a field of that name means the same in every task). The ranges of a task's
own fields live with its config: a built-in task declares them in ``@register_task(...,
limits={...})`` (:mod:`actsearch.evaluators.registry`), a panel in :mod:`actsearch.evaluators.panel`.
A number without a range only has to be finite. Cross-field rules of a task (a training split larger
than the data) live with the task.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from actsearch.errors import UserError


class SettingError(UserError):
    """A setting outside its allowed range."""


@dataclass(frozen=True)
class Range:
    """Allowed values ``lo <= v <= hi`` (``lo < v`` when ``open_lo``); numbers must be finite."""

    lo: float | None = None
    hi: float | None = None
    open_lo: bool = False  # lo itself is not allowed (a learning rate of 0)

    def text(self) -> str:
        low = "" if self.lo is None else f"{'>' if self.open_lo else '>='} {self.lo:g}"
        high = "" if self.hi is None else f"<= {self.hi:g}"
        return " and ".join(p for p in (low, high) if p) or "finite"

    def ok(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.lo is not None and (value <= self.lo if self.open_lo else value < self.lo):
            return False
        return self.hi is None or value <= self.hi


POSITIVE = Range(0, None, open_lo=True)

# The training protocol's settings (TrainConfig in actsearch/evaluators/builtin/common.py says what
# each means), shared by every trained task; a task's other fields have their ranges with the task.
TRAINING_SETTINGS: dict[str, Range] = {
    "steps": Range(1, 10_000_000),  # optimizer steps
    "batch_size": Range(1, 65_536),
    "lr": Range(0, 10, open_lo=True),  # a learning rate above 10 only diverges
    "weight_decay": Range(0, 10),
    "checkpoints": Range(1, 1_000),
    "report_subset": Range(1, 10_000_000),
    "max_weight": Range(0, 1e30, open_lo=True),
    "dnr_samples": Range(1, 10_000_000),
}

# Run settings: the values of ``search``, ``resume``, ``evaluate`` and ``validate`` options.
RUN_SETTINGS: dict[str, Range] = {
    "budget": Range(1, 10_000_000),  # candidates to evaluate
    "seeds": Range(1, 1_000),  # seeds per candidate
    "workers": Range(1, 4_096),  # trials at once
    "time_limit": Range(0, 10_000_000, open_lo=True),  # seconds per seed
    "cpus_per_trial": Range(0, 4_096, open_lo=True),
    "gpus_per_trial": Range(0, 64),
    "threads": Range(1, 4_096),
    "pack": Range(1, 256),  # candidates one trial trains together
    "top": Range(0, 10_000_000),
}


# Files a run reads whole, refused above these sizes before they are read (a 3 GB space file, a
# calibration file that is /dev/zero) and unless they are regular files (a FIFO would block).
SPACE_FILE_MAX_BYTES = 1_000_000  # a TOML space: the presets are under 2 KB
REFERENCE_FILE_MAX_BYTES = 10_000_000  # a panel's calibration JSON: benchmarks/calibrate_tasks.py writes ~10 KB

# The share of this machine's memory one training may plan to use (actsearch.evaluators.budget):
# settings whose estimate (parameters with gradients and Adam's state, one batch's activations,
# the data) is above it are refused before anything is built.
MEMORY_FRACTION = 0.5


def check(name: str, value: Any, table: Mapping[str, Range] = RUN_SETTINGS, *, label: str | None = None) -> Any:
    """``value`` if it is allowed for setting ``name``, else :class:`SettingError` (one line).

    Booleans and text are not range-checked; a number must be finite and, where ``table`` has a
    range for ``name``, inside it. ``label`` names the setting in the message (``--time-limit``).
    A run setting (``table`` is :data:`RUN_SETTINGS`) must be a number: text or a boolean such as
    ``budget="3"`` or ``seeds=True`` from Python is refused too."""
    what = label or name
    if table is RUN_SETTINGS and isinstance(value, (bool, str)):
        raise SettingError(f"{what} must be a number, got {value!r}")
    if value is None or isinstance(value, (bool, str)):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SettingError(f"{what} must be a number, got {value!r}") from None
    rule = table.get(name, Range())
    if not rule.ok(number):
        raise SettingError(f"{what} must be {rule.text()}, got {value!r}")
    return value


def check_task_settings(task: str, config: Any, limits: Mapping[str, Range]) -> None:
    """Every numeric field of a task's config dataclass inside its range in ``limits`` (a field
    without one: finite); else :class:`SettingError` naming the task, the field, the range and the value."""
    import dataclasses

    for f in dataclasses.fields(config):
        check(f.name, getattr(config, f.name), limits, label=f"task {task}: {f.name}")
