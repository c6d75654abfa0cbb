"""One leaderboard row, :class:`Entry` (its own module: the leaderboard builds entries, the
formats render them, and neither needs the other's code)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from actsearch.evaluators.result import Status
from actsearch.results.records import Role


@dataclass
class Entry:
    """One leaderboard row: a distinct function with its score, properties and validation."""

    rank: int | None  # 1-based: finished search candidates, then those stopped early; None for references/failed
    id: Any  # the store id of the record that carries the score
    expression: str
    canonical: str | None
    params: dict[str, float]
    score: float | None
    score_std: float | None
    seeds: int
    status: Status
    steps: int | None = None  # the training step it reached (less than the task's steps when stopped early)
    task: str | None = None
    role: Role = Role.SEARCH  # REFERENCE for relu/swish baselines (unranked), else the row's role
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
    vs: dict[str, str] = field(default_factory=dict)  # the confirmed verdict against each reference

    def to_dict(self) -> dict[str, Any]:
        """Every field; ``vs`` only once the run has a confirmation (older outputs stay as they were)."""
        out = asdict(self)
        if not self.vs:
            del out["vs"]
        return out
