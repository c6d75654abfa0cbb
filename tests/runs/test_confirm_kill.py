"""A confirmation SIGKILLed after its first stored confirmation seed, then run again: nothing
stored is lost, the re-run trains only the missing seeds, and the verdict equals an uninterrupted
confirmation's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

import actsearch
from actsearch.results.records import Role
from actsearch.results.store import SqliteStore

SETTINGS = {"steps": 150}  # a few tenths of a second a seed: the kill lands mid-way
ARGS = ["--top", "2", "--seeds", "4", "--format", "json"]


def _tiny_run(run_dir):
    actsearch.run_search(space="quick", searcher="random", task="digits", budget=3, settings=SETTINGS,
                         references=("relu",), run_dir=run_dir, seed=1, executor="inprocess").close()
    return run_dir


def _seed_runs(run_dir) -> dict:
    """(function, seed) -> the stored run of that seed, for every confirmation seed stored."""
    try:
        rows = SqliteStore(run_dir, readonly=True).candidates(role=Role.CONFIRMATION, include_aliases=False)
    except Exception:  # noqa: BLE001 - the store may be being written
        return {}
    return {((r.reference or r.fingerprint), s["seed"]): s for r in rows for s in r.runs}


def _confirm(run_dir) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "actsearch.cli", "confirm", str(run_dir), *ARGS],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_killed_confirm_resumes_to_the_same_verdict(tmp_path):
    killed, whole = _tiny_run(tmp_path / "killed"), _tiny_run(tmp_path / "whole")
    driver = subprocess.Popen([sys.executable, "-m", "actsearch.cli", "confirm", str(killed), *ARGS],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and driver.poll() is None and not _seed_runs(killed):
            time.sleep(0.02)
        assert driver.poll() is None, "the confirmation ended before it could be killed"
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(timeout=60)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    before = _seed_runs(killed)
    assert 0 < len(before) < 12  # 2 candidates and relu on 4 seeds: interrupted mid-way

    again = _confirm(killed)
    assert again.returncode == 0, again.stderr
    after = _seed_runs(killed)
    assert len(after) == 12
    assert all(after[key] == run for key, run in before.items())  # kept as stored, not trained again
    uninterrupted = _confirm(whole)
    assert uninterrupted.returncode == 0, uninterrupted.stderr
    assert json.loads(again.stdout) == json.loads(uninterrupted.stdout)
