"""What a model-based searcher's set-up costs, priced against the search's budget before it runs.

The ``surrogate`` featurises its whole pool before its first proposal, in the driver, while no
candidate trains. The features' cost scales with the task's network, not with its training: the
trainability proxy (group (d) of :mod:`actsearch.search.screening.features`) trains ``PROXY_STEPS``
steps of the task's own network per pool member, so on a task that trains 80 steps the proxy of
320 candidates costs as much as 80 trainings — several times a budget of 24 (on the default
task's 3,000 steps the same proxy is ~2 trainings). So the set-up is priced first:

- one pool member is measured (a propagation pass, the proxy, the shape features; :func:`measure`);
- one training of a candidate is estimated in the same unit: the task's ``steps`` /
  ``PROXY_STEPS`` × the proxy's seconds (an upper bound of a step: the proxy's time includes
  building the network and its final evaluation), and the budget is ``budget`` such trainings;
- the richest plan that costs at most ``share`` (default :data:`SETUP_SHARE`) of the budget is
  chosen (:func:`choose`), in this order:

  ``full``      every member's shape, propagation and proxy features (the forest sees the proxy);
  ``capped``    shape and propagation features for every member, the proxy for as many members
                as fit (at least ``min_probed``; chosen at random with the searcher's seed), which
                then only chooses the starting candidates;
  ``features``  shape and propagation features, no proxy (random starts);
  ``shape``     the shape features alone (milliseconds a member, whatever the network), and no
                pre-screen of the pool (the run's pre-screen still judges each proposal).

Why a quarter: the set-up then delays the first candidate by at most a quarter of what the
budget's trainings take — a fifth of the run at most — while on the default task a typical budget
(24 and up) still affords the full proxy (~2 trainings), so the default searcher is unchanged
where it was measured. When the task's steps are unknown (a function task without ``steps``),
the set-up is not priced and runs in full, and the first line says so.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from actsearch.search.screening.features import (
    PROXY_STEPS,
    Featurizer,
    propagation_features,
    proxy_features,
    scalar_features,
)

SETUP_SHARE = 0.25  # the set-up may cost at most this share of the budget's trainings (see the docstring)
PLANS = ("full", "capped", "features", "shape")
PROGRESS_EVERY_S = 10.0  # seconds between two progress lines while a set-up runs


@dataclass(frozen=True)
class Cost:
    """Seconds one pool member's features take, measured on one member."""

    passes: float  # one forward/backward propagation pass of the task's network (group (c), one value)
    proxy: float  # the trainability proxy (group (d))
    shape: float  # the shape features of one value (group (b))


@dataclass
class Plan:
    """What a set-up computes, its estimated cost and the budget it was priced against."""

    mode: str  # one of PLANS
    pool: int  # pool members featurised
    probed: int  # pool members the proxy runs on
    estimate_s: float  # the chosen plan's estimated seconds
    full_s: float  # what the full set-up would have cost
    budget_s: float | None  # the budget's trainings in seconds (None: not priced)
    train_s: float | None  # one training's estimated seconds
    per_member_s: float  # the chosen plan's seconds per featurised member (the proxy's share included)
    note: str = ""  # why this plan (a clause of its line)
    seconds: float = 0.0  # what the set-up took (measured)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}

    def line(self, who: str = "surrogate") -> str:
        """The one line said before the set-up runs: how many, how long, and which plan and why."""
        what = {"full": "", "capped": f", the proxy on {self.probed} of them at random",
                "features": ", without the proxy", "shape": ", shape features only"}[self.mode]
        head = f"{who}: probing {self.pool} candidates (~{minutes(self.estimate_s)} at {self.per_member_s:.2g} s each"
        if self.budget_s is None:
            return f"{head}; {self.note}){what}"
        if self.mode == "full" or (self.mode == "features" and self.full_s == self.estimate_s):
            return f"{head}; {self.estimate_s / self.budget_s:.0%} of the budget's ~{minutes(self.budget_s)})"
        return f"{head}){what}: {self.note}"


def task_steps(task: Any) -> int | None:
    """The optimizer steps one training of ``task`` (a name or a ``Task``) takes, or None if unknown."""
    if task is None:
        return None
    if isinstance(task, str):
        from actsearch.evaluators import get_task

        try:
            task = get_task(task)
        except Exception:  # noqa: BLE001 - a task that cannot be built here is simply not priced
            return None
    return task.steps


def measure(featurizer: Featurizer, act: Any) -> tuple[Cost, float]:
    """The cost of ``act``'s features on the featuriser's probe (one thread, as the set-up runs),
    and its proxy loss (so that the measurement is not wasted)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        start = time.perf_counter()
        scalar_features(act.module())
        shape = time.perf_counter() - start
        start = time.perf_counter()
        propagation_features(act.module, featurizer.probe)
        passes = time.perf_counter() - start
        start = time.perf_counter()
        loss = proxy_features(act.module, featurizer.probe, featurizer.proxy_steps or PROXY_STEPS)["proxy_loss"]
        proxy = time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)
    return Cost(passes=passes, proxy=proxy, shape=shape), loss


def choose(cost: Cost, values_per_member: Sequence[int], *, steps: int | None, budget: int | None,
           share: float = SETUP_SHARE, min_probed: int = 5, proxy: bool = True,
           proxy_steps: int = PROXY_STEPS) -> Plan:
    """The richest plan whose estimated cost is within ``share`` of the budget (see the docstring).

    ``values_per_member``: how many values of its constants each pool member's features are computed
    at (1 without learnable constants); ``budget``: trainings the search may run (candidates × seeds);
    ``proxy``: whether the featuriser has the proxy at all."""
    n = len(values_per_member)
    values = sum(values_per_member)
    shape_s = values * cost.shape
    features_s = values * (cost.shape + cost.passes)
    full_s = features_s + (n * cost.proxy if proxy else 0.0)
    top = "full" if proxy else "features"
    if steps is None or budget is None or n == 0:
        why = "the task's training steps are unknown" if steps is None else "the search has no budget"
        return Plan(top, n, n if proxy else 0, full_s, full_s, None, None, full_s / max(1, n),
                    note=f"not priced: {why}")
    train_s = steps / proxy_steps * cost.proxy
    budget_s = budget * train_s
    allowed = share * budget_s

    def plan(mode: str, estimate: float, probed: int, why: str) -> Plan:
        return Plan(mode, n, probed, estimate, full_s, budget_s, train_s, estimate / max(1, n), note=why)

    if full_s <= allowed:
        return plan(top, full_s, n if proxy else 0, f"within {share:.0%} of the budget")
    over = (f"the full set-up (~{minutes(full_s)}) would be {full_s / budget_s:.0%} of the budget's "
            f"~{minutes(budget_s)} (the cap is {share:.0%})")
    k = min(n, int((allowed - features_s) // cost.proxy)) if proxy and cost.proxy > 0 else 0
    if proxy and k >= min_probed:
        return plan("capped", features_s + k * cost.proxy, k, over)
    if features_s <= allowed:
        return plan("features", features_s, 0, over)
    return plan("shape", shape_s, 0, over)


def minutes(seconds: float) -> str:
    """A duration as people say it: ``45 s``, ``3.2 min``, ``1.5 h``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def stderr_line(text: str) -> None:
    """The default channel of set-up lines: one line on stderr (a live view shows it above itself)."""
    print(text, file=sys.stderr, flush=True)


class Ticker:
    """Progress of a loop over ``total`` members: a line at most every ``every_s`` seconds."""

    def __init__(self, log: Callable[[str], None], what: str, total: int, every_s: float = PROGRESS_EVERY_S) -> None:
        self.log, self.what, self.total, self.every_s = log, what, total, every_s
        self.start = self.last = time.perf_counter()

    def tick(self, done: int) -> None:
        now = time.perf_counter()
        if now - self.last < self.every_s or done >= self.total:
            return
        self.last = now
        elapsed = now - self.start
        left = elapsed / max(1, done) * (self.total - done)
        self.log(f"{self.what} {done}/{self.total} in {minutes(elapsed)}, ~{minutes(left)} left")

    def seconds(self) -> float:
        return time.perf_counter() - self.start

