"""One wall-clock estimator for every pipeline: driver-side work plus trainings over the workers.

A pipeline's plan fixes its budget (the candidates of its open-ended search phase) from measured
per-seed costs and a planned wall clock — not from a timer, so a run is reproducible:

    clock = WallClock(workers=2).driver(reference_s).trainings(seed_evals, seconds_a_seed)
    budget = clock.fit(plan_s, seconds_a_candidate, lo=20, hi=100)   # what the plan leaves
    clock.trainings(budget, seconds_a_candidate).wall_s               # the expected wall time

Driver-side work (references measured once, a searcher's set-up) runs on one core before the
workers start; trainings are spread over the workers. Items are kept in the order they were
added and subtracted in that order, so a budget is the same float arithmetic on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class WallClock:
    """Seconds a pipeline's phases take: driver-side items and worker-side trainings."""

    workers: int
    driver_items: tuple[float, ...] = field(default=())  # seconds on one core, in the driver
    worker_items: tuple[float, ...] = field(default=())  # seconds of one worker, spread over `workers`

    def driver(self, seconds: float) -> WallClock:
        """Add work done in the driver before (or between) the trainings."""
        return WallClock(self.workers, (*self.driver_items, float(seconds)), self.worker_items)

    def trainings(self, count: float, seconds_each: float) -> WallClock:
        """Add ``count`` trainings of ``seconds_each`` seconds of one worker."""
        return self.worker(count * seconds_each)

    def worker(self, seconds: float) -> WallClock:
        """Add ``seconds`` of one worker (several phases' trainings already summed)."""
        return WallClock(self.workers, self.driver_items, (*self.worker_items, float(seconds)))

    @property
    def wall_s(self) -> float:
        """The expected wall time: the driver's seconds plus the trainings split over the workers."""
        return sum(self.driver_items) + sum(self.worker_items) / self.workers

    def fit(self, plan_s: float, seconds_each: float, *, lo: int, hi: int) -> int:
        """How many more trainings of ``seconds_each`` fit the wall clock ``plan_s`` after what is
        already counted (clamped to ``lo`` .. ``hi``)."""
        left = plan_s
        for seconds in self.driver_items:
            left -= seconds
        left *= self.workers
        for seconds in self.worker_items:
            left -= seconds
        return max(lo, min(hi, int(left / seconds_each)))


def halving_seed_evals(rungs: tuple[tuple[int, int], ...], start: int = 1) -> int:
    """Candidate-seed trainings of successive halving: rung k brings its survivors from the
    previous rung's seeds (``start`` before the first) to its own."""
    total, prev = 0, start
    for survivors, seeds in rungs:
        total += survivors * (seeds - prev)
        prev = seeds
    return total


def final_seeds(rungs: tuple[tuple[int, int], ...]) -> int:
    """Seeds of the last rung (1 without halving)."""
    return rungs[-1][1] if rungs else 1
