"""How long ``actsearch --help`` and ``actsearch search --help`` take, now that help texts list the
registries (searchers, spaces, pipelines, tasks from the light catalog).

Each variant is a fresh Python process running the console entry point, timed from outside, the
variants interleaved round by round so a busy machine slows them alike; the figure is the median
per variant and its ratio to this checkout in the same run:

- ``this checkout``: the help as built now (the task names from ``actsearch.evaluators.catalog``,
  no torch);
- ``with the task registry``: the same, plus importing the task registry
  (``actsearch.evaluators.tasks``, torch) first — what reading the task list from the registry
  itself would cost;
- ``--ref DIR``: another checkout (e.g. ``git archive`` of the commit before), for before/after.

Prints and saves JSON to benchmarks/results/cli_help.json.

    python benchmarks/bench_cli_help.py [--repeats 7] [--ref DIR]
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import harness

ROOT = Path(__file__).resolve().parents[1]
HELP = "import sys; from actsearch.cli import main; sys.argv = ['actsearch', *sys.argv[1:]]; main()"
WITH_REGISTRY = "import actsearch.evaluators.tasks; " + HELP
COMMANDS = {"actsearch --help": ["--help"], "actsearch search --help": ["search", "--help"]}


def _time(code: str, args: list[str], tree: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - start
    if out.returncode != 0 or "Usage" not in out.stdout:
        raise SystemExit(f"help failed ({tree}): {out.stderr.strip()[-300:]}")
    return wall


def main() -> None:
    parser = harness.parser(__doc__, "cli_help", repeats=7)
    parser.add_argument("--ref", type=Path, default=None, help="another checkout to compare (before/after)")
    args = parser.parse_args()
    variants = {"this checkout": (HELP, ROOT), "with the task registry": (WITH_REGISTRY, ROOT)}
    if args.ref is not None:
        variants[f"ref {args.ref}"] = (HELP, args.ref.resolve())
    for code, tree in variants.values():  # warm the file cache (and .pyc files) once
        _time(code, ["--help"], tree)
    times: dict[str, dict[str, list[float]]] = {c: {v: [] for v in variants} for c in COMMANDS}
    for _ in range(args.repeats):
        for command, argv in COMMANDS.items():
            for name, (code, tree) in variants.items():
                times[command][name].append(_time(code, argv, tree))
    result = {"benchmark": "cli_help", "python": platform.python_version(), "repeats": args.repeats,
              "load_avg": os.getloadavg(), "commands": {}}
    for command, by_variant in times.items():
        base = statistics.median(by_variant["this checkout"])
        rows = {name: {"median_s": round(statistics.median(ts), 3), "ratio": round(statistics.median(ts) / base, 2),
                       "seconds": [round(t, 3) for t in ts]} for name, ts in by_variant.items()}
        result["commands"][command] = rows
        print(command)
        for name, row in rows.items():
            print(f"  {name:40s} {row['median_s']:6.3f} s  {row['ratio']:5.2f}x")
    print(f"load average {result['load_avg'][0]:.1f} (a shared machine)")
    harness.save(args.out, result, args)


if __name__ == "__main__":
    main()
