"""What every benchmark script shares: its common arguments, the machine it ran on, timers, and saving.

    import harness                                    # benchmarks/ is the script's own folder
    ap = harness.parser(__doc__, "bench_x", quick=True, repeats=2)
    args = ap.parse_args()
    ...
    harness.save(args.out, {"benchmark": "bench_x", ...}, args)

- :func:`parser`: ``--out`` (default ``benchmarks/results/NAME.json``), ``--machine`` (how loaded
  the machine was, in words) and, where a script has them, ``--quick`` and ``--repeats``.
- :func:`machine`: cores, platform, Python and library versions, the load average when the script
  started and now, and whether the machine was idle when it started (:data:`IDLE_LOAD`).
- :func:`save`: writes the script's own JSON unchanged, plus one ``provenance`` key: the machine,
  the command line, the git revision (and whether the tree had uncommitted changes), start and end.
- Timers in this process's CPU seconds (:func:`clock`), which other processes' load on a shared
  machine inflates far less than the wall clock: :func:`timed`, :func:`timed_pair`, :func:`fewest_ms`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
PROVENANCE = "provenance"  # the one key save() adds to a script's JSON
IDLE_LOAD = 0.5  # 1-minute load average below which the machine counts as idle when a script starts
LIBRARIES = ("torch", "numpy", "scipy", "sklearn", "sympy", "ray")  # versions recorded when imported

_STARTED_WALL = time.perf_counter()  # the harness is imported when a script starts
_STARTED_AT = datetime.now(timezone.utc)
_LOAD_AT_START = os.getloadavg()


def parser(doc: str | None, name: str, *, quick: bool = False, repeats: int | None = None,
           out: Path | None | str = "default") -> argparse.ArgumentParser:
    """An argument parser with the arguments every benchmark shares.

    ``doc``: the script's docstring (its first line is the description); ``name``: the results
    file's stem; ``quick``: add ``--quick`` (a smoke run, not a measurement); ``repeats``: add
    ``--repeats N`` with this default; ``out``: the default of ``--out`` (``None`` when the script
    derives it from other arguments)."""
    first = (doc or name).strip().splitlines()[0]
    ap = argparse.ArgumentParser(description=first)
    default = RESULTS / f"{name}.json" if out == "default" else (None if out is None else Path(out))
    ap.add_argument("--out", type=Path, default=default,
                    help=f"where the JSON goes (default {_shown(default) if default else 'see above'})")
    ap.add_argument("--machine", default="shared, 2 cores",
                    help="how loaded the machine was, in words (saved with the figures)")
    if quick:
        ap.add_argument("--quick", action="store_true", help="a smoke run of the script: tiny sizes, not a measurement")
    if repeats is not None:
        ap.add_argument("--repeats", type=int, default=repeats, help="runs per timing (default %(default)s)")
    return ap


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def git_revision() -> dict[str, Any]:
    """The checkout's commit and whether tracked files had uncommitted changes (None outside git)."""
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    revision = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if revision else None
    return {"revision": revision, "dirty": None if status is None else bool(status)}


def machine() -> dict[str, Any]:
    """The machine the figures come from: cores, platform, versions, load, and whether it was idle."""
    versions = {lib: getattr(sys.modules[lib], "__version__", None) for lib in LIBRARIES if lib in sys.modules}
    load_start, load_now = _LOAD_AT_START, os.getloadavg()
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "processor": platform.machine(),
            "python": platform.python_version(), "versions": versions,
            "load_avg_start": [round(x, 2) for x in load_start], "load_avg_end": [round(x, 2) for x in load_now],
            "idle": load_start[0] < IDLE_LOAD, "idle_rule": f"1-minute load average below {IDLE_LOAD} at the start"}


def command_line(argv: list[str] | None = None) -> str:
    """The command that ran, as one could type it again from the repository root."""
    argv = list(sys.argv if argv is None else argv)
    script = Path(argv[0]).resolve() if argv else None
    if script is not None and script.is_relative_to(REPO):
        argv[0] = str(script.relative_to(REPO))
    return shlex.join(["python", *argv])


def provenance(args: argparse.Namespace | None = None) -> dict[str, Any]:
    """What :func:`save` adds under ``provenance``."""
    out: dict[str, Any] = {"command": command_line(), "git": git_revision(), "machine": machine(),
                           "started": _STARTED_AT.isoformat(timespec="seconds"),
                           "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                           "wall_s": round(time.perf_counter() - _STARTED_WALL, 2)}
    note = getattr(args, "machine", None)
    if isinstance(note, str):
        out["note"] = note
    return out


def save(out: Path | str, payload: dict[str, Any], args: argparse.Namespace | None = None, *,
         indent: int = 2, default: Callable[[Any], Any] | None = None, quiet: bool = False) -> Path:
    """Write ``payload`` (its keys as the script made them) plus ``provenance`` as JSON to ``out``;
    a bare name (no folder, no suffix) goes to ``benchmarks/results/NAME.json``."""
    path = Path(out)
    if path.parent == Path(".") and not path.suffix:
        path = RESULTS / f"{path}.json"
    data = {**payload, PROVENANCE: provenance(args)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=indent, default=default) + "\n")
    if not quiet:
        print(f"saved {path}")
    return path


def clock() -> float:
    """This process's CPU seconds: on a shared machine the time it actually ran (one torch thread,
    so CPU ≈ busy wall)."""
    return time.process_time()


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """The fewest CPU seconds of ``repeats`` calls of ``fn``, and its last result."""
    best, out = float("inf"), None
    for _ in range(max(1, repeats)):
        start = clock()
        out = fn()
        best = min(best, clock() - start)
    return best, out


def timed_pair(first: Callable[[], Any], second: Callable[[], Any], repeats: int) -> tuple[float, Any, float, Any]:
    """The fewest CPU seconds of ``repeats`` calls of each of two functions, called alternately
    (so both see the same load), and their last results."""
    best, out = [float("inf"), float("inf")], [None, None]
    for _ in range(max(1, repeats)):
        for k, fn in enumerate((first, second)):
            start = clock()
            out[k] = fn()
            best[k] = min(best[k], clock() - start)
    return best[0], out[0], best[1], out[1]


def fewest_ms(fn: Callable[[], Any], calls: int, repeats: int, warm: int) -> float:
    """ms of CPU per call of ``fn``: ``warm`` calls first, then the fewest of ``repeats`` loops
    of ``calls`` calls."""
    for _ in range(warm):
        fn()
    best = float("inf")
    for _ in range(max(1, repeats)):
        start = clock()
        for _ in range(calls):
            fn()
        best = min(best, clock() - start)
    return best / calls * 1e3
