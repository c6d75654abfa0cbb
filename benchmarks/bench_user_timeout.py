"""How fast ``--time-limit`` ends a user task: with and without ``report`` calls.

A full-control task that reports every 10 ms is stopped at its next report after the deadline;
one that never reports (a 5-second sleep) is abandoned at the deadline (its thread runs on). The
figure is the time from the start to the ``timeout`` result, as a ratio to the limit (1.0 =
exactly at the deadline), median of the repeats. Prints and saves JSON to
benchmarks/results/user_timeout.json.

    python benchmarks/bench_user_timeout.py [--limit 0.5] [--repeats 5]
"""

from __future__ import annotations

import statistics
import time

import harness

from actsearch.evaluators.user import UserTask


def reports(act, seed, report):
    step = 0
    while True:
        step += 1
        report(step, 0.5)
        time.sleep(0.01)


def silent(act, seed, report):
    time.sleep(5.0)
    return 1.0


def main() -> None:
    parser = harness.parser(__doc__, "user_timeout", repeats=5)
    parser.add_argument("--limit", type=float, default=0.5)
    args = parser.parse_args()
    UserTask(lambda act, seed, report: 1.0, "warm-up").evaluate_seed("relu", 0)  # imports, parsing
    out = {"limit_s": args.limit, "repeats": args.repeats, "machine": "shared 2-core CPU"}
    for name, fn in (("reports", reports), ("silent", silent)):
        task, ratios, statuses = UserTask(fn, name), [], set()
        for seed in range(args.repeats):
            start = time.perf_counter()
            res = task.evaluate_seed("relu", seed, time_limit_s=args.limit)
            ratios.append((time.perf_counter() - start) / args.limit)
            statuses.add(res.status)
        out[name] = {"median_ratio_to_limit": statistics.median(ratios), "max_ratio": max(ratios),
                     "statuses": sorted(statuses)}
        print(f"{name:>8}: timeout after {statistics.median(ratios):.3f}x the limit (max {max(ratios):.3f}x), "
              f"statuses {sorted(statuses)}")
    harness.save(args.out, out, args)


if __name__ == "__main__":
    main()
