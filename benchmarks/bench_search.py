"""Benchmark of the distributed runner: Ray Tune path vs a plain loop, and 1 vs 2 workers.

The same N candidates (the first N proposals of the ``random`` searcher on ``x-gated``, seed 0)
are evaluated on MNIST-1D (the default task, one seed each):

1. in a plain loop in this process (``evaluate`` one after the other, one torch thread), after
   one warm-up evaluation that is not timed (data, imports);
2. through the loop (``runner.run``) on an embedded Ray with 1 worker, into a fresh run directory;
3. the same with 2 workers.

Reported, each measured in this run: candidates per minute of every path, both *total* (from
the start of the run to its end: Tuner set-up, worker start-up, the store and all trials;
Ray's own start-up is timed separately) and *steady* (between the first and the last stored
result: the per-trial cost once workers are warm); the Ray/plain throughput ratio (goal ≥ 0.9)
and the 2-worker/1-worker speed-up (goal ≥ 1.8). The machine's load average is recorded:
other work on a shared machine takes cores from the workers and lowers both ratios.
Writes ``benchmarks/results/bench_search.json``.
Run: ``nice -n 10 python benchmarks/bench_search.py [--candidates N] [--steps S]``.
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import harness
import torch

from actsearch.evaluators import evaluate, get_task
from actsearch.grammar import parse
from actsearch.search.infra.cluster import start_ray, stop_ray
from actsearch.search.rundir.run import run
from actsearch.search.rundir.spec import SearchSpec
from actsearch.search.searchers import make_searcher
from actsearch.search.searchers.base import FINISHED, WAIT

SPACE, SEARCHER, TASK = "x-gated", "random", "mnist1d"


def candidates(n: int) -> list:
    """The first n trials the loop hands out for the searcher (the same the Ray run will train)."""
    from actsearch.results.memory import MemoryStore
    from actsearch.search.loop.study import Study

    study = Study(MemoryStore(), task=TASK, searcher=make_searcher(SEARCHER, SPACE, seed=0), budget=n)
    out = []
    while len(out) < n:
        config = study.next_trial()
        if config is FINISHED or config is WAIT:
            break
        out.append(config)
    return out


def plain_loop(props: list, overrides: dict) -> dict:
    torch.set_num_threads(1)
    task = get_task(TASK, **overrides)
    evaluate("relu", task, seeds=(0,))  # warm-up: data set, imports (not timed)
    start = time.perf_counter()
    stamps = []
    for p in props:
        evaluate(parse(p.expression, **p.params), task, seeds=(0,), threads=1)
        stamps.append(time.perf_counter() - start)
    return _rates(len(props), stamps[-1], stamps)


def ray_path(props: list, overrides: dict, workers: int, root: Path) -> dict:
    run_dir = root / f"ray-{workers}"
    shutil.rmtree(run_dir, ignore_errors=True)
    spec = SearchSpec(space=SPACE, searcher=SEARCHER, task=TASK, budget=len(props), workers=workers,
                      task_overrides=overrides, references=(), prescreen=False)  # the same candidates as the loop
    start = time.perf_counter()
    stamps = []
    summary, _ = run(spec, run_dir, on_event=lambda e: stamps.append(time.perf_counter() - start))
    total = time.perf_counter() - start
    assert summary.evaluated == len(props), summary
    return _rates(len(props), total, stamps)


def _rates(n: int, total_s: float, stamps: list[float]) -> dict:
    steady = (len(stamps) - 1) / (stamps[-1] - stamps[0]) * 60 if len(stamps) > 1 and stamps[-1] > stamps[0] else None
    return {"candidates": n, "total_s": round(total_s, 2), "per_min_total": round(n / total_s * 60, 2),
            "per_min_steady": None if steady is None else round(steady, 2)}


def main() -> None:
    ap = harness.parser(__doc__, "bench_search")
    ap.add_argument("--candidates", type=int, default=8)
    ap.add_argument("--steps", type=int, default=None, help="override the task's steps (default: the task's)")
    args = ap.parse_args()
    overrides = {"steps": args.steps} if args.steps else {}
    load_before = os.getloadavg()
    props = candidates(args.candidates)
    print(f"{len(props)} candidates of {SPACE} on {TASK} {overrides or ''}; load average {load_before}")
    plain = plain_loop(props, overrides)
    print(f"plain loop      : {plain}")
    root = Path(tempfile.mkdtemp(prefix="bench-search-"))
    t0 = time.perf_counter()
    handle = start_ray(None, 2)
    ray_start_s = time.perf_counter() - t0
    try:
        one = ray_path(props, overrides, 1, root)
        print(f"ray, 1 worker   : {one}")
        two = ray_path(props, overrides, 2, root)
        print(f"ray, 2 workers  : {two}")
    finally:
        stop_ray(handle)
        shutil.rmtree(root, ignore_errors=True)

    def ratio(a: float | None, b: float | None) -> float | None:
        return None if not a or not b else round(a / b, 3)

    result = {
        "space": SPACE, "searcher": SEARCHER, "task": TASK, "overrides": overrides, "candidates": len(props),
        "plain": plain, "ray_1_worker": one, "ray_2_workers": two, "ray_start_s": round(ray_start_s, 2),
        "ray_vs_plain_total": ratio(one["per_min_total"], plain["per_min_total"]),
        "ray_vs_plain_steady": ratio(one["per_min_steady"], plain["per_min_steady"]),
        "speedup_2_vs_1_total": ratio(two["per_min_total"], one["per_min_total"]),
        "speedup_2_vs_1_steady": ratio(two["per_min_steady"], one["per_min_steady"]),
        "goals": {"ray_vs_plain": 0.9, "speedup_2_vs_1": 1.8},
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__},
    }
    for key in ("ray_vs_plain_total", "ray_vs_plain_steady", "speedup_2_vs_1_total", "speedup_2_vs_1_steady"):
        print(f"{key:<24}: {result[key]}")
    harness.save(args.out, result, args)


if __name__ == "__main__":
    main()
