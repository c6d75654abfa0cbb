"""SIGKILL a pipeline's driver at chosen points of its progress, for the presets' resume tests."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from actsearch.results.store import SqliteStore


def stored_seed_runs(run: Path) -> int:
    """A number that grows with a pipeline's progress: its stored seed runs (and rows)."""
    if not (run / "run.sqlite").exists():
        return 0
    try:
        return sum(max(1, len(r.seeds)) for r in SqliteStore(run, readonly=True).candidates())
    except Exception:  # noqa: BLE001 - the store may be being created
        return 0


def kill_at(first: Sequence[str], resume: Sequence[str], run: Path, targets: Sequence[int], rng: random.Random,
            *, wait_s: float, jitter_s: float) -> int:
    """Start ``first`` (then ``resume`` after each kill) and SIGKILL it once ``run`` holds
    ``target`` seed runs (plus a random delay up to ``jitter_s``), for each target in turn; a
    driver that finishes first is not killed. Returns how many kills there were."""
    kills = 0
    for target in targets:
        driver = subprocess.Popen(list(resume if kills else first), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, start_new_session=True)
        try:
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline and driver.poll() is None and stored_seed_runs(run) < target:
                time.sleep(0.1)
            time.sleep(rng.uniform(0.0, jitter_s))
            if driver.poll() is None:
                os.kill(driver.pid, signal.SIGKILL)
                kills += 1
            driver.wait(timeout=60)
        finally:
            if driver.poll() is None:
                driver.kill()
                driver.wait()
    return kills
