"""The rediscover preset end to end (``--smoke``): real Ray, real training, real SQLite.

One uninterrupted run checks what the store holds (three phases, references, multi-seed scores of
the halving survivors), that ``actsearch leaderboard`` ranks by them and that its order is the
believable one (swish above relu above every linear candidate); a second run is SIGKILLed
at random points in every phase and resumed until it finishes, and must hold the same candidates,
each evaluated exactly once (each seed once)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from actsearch.results.banner import SMOKE_BANNER
from actsearch.results.records import CONFIRM_SEED_BASE, Role
from actsearch.results.store import SqliteStore
from actsearch.search.pipelines import STATE, get_pipeline
from actsearch.search.pipelines.phases import VERDICT
from tests.helpers.kill import kill_at

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "actsearch.cli"]
PLAN = get_pipeline("rediscover-smoke").plan
FINAL = PLAN.rungs[-1][1]


def _rows(run: Path, **kw: str) -> list:
    return SqliteStore(run, readonly=True).candidates(task=PLAN.task, include_aliases=False, **kw)


def _check_store(run: Path) -> dict:
    """The invariants of a finished smoke run; returns what the comparison needs."""
    store = SqliteStore(run, readonly=True)
    search = [r for r in _rows(run, role="search") if r.trained]
    by = {s: [r for r in search if r.searcher == s] for s in ("exhaustive", "rl")}
    assert len(by["exhaustive"]) == PLAN.exhaustive_budget and len(by["rl"]) == PLAN.rl_candidates
    assert len(search) == PLAN.exhaustive_budget + PLAN.rl_candidates
    assert len({r.fingerprint for r in search}) == len(search)  # each candidate once
    for r in _rows(run):  # each seed evaluated once; the confirmation's on fresh seeds
        first = CONFIRM_SEED_BASE if r.role == Role.CONFIRMATION else 0
        assert sorted(r.seeds) == list(range(first, first + len(r.seeds))) and len(r.runs) == len(r.seeds), r
    confirmed = _rows(run, role=Role.CONFIRMATION)
    assert len(confirmed) == PLAN.confirm_top + len(PLAN.references)
    assert all(len(r.seeds) == PLAN.confirm_seeds for r in confirmed)
    verdict = json.loads((run / VERDICT).read_text())
    assert len(verdict["comparisons"]) == PLAN.confirm_top * len(PLAN.references) and verdict["paired"] is True
    assert verdict["seeds"] == list(range(CONFIRM_SEED_BASE, CONFIRM_SEED_BASE + PLAN.confirm_seeds))
    assert {c["expression"] for c in verdict["comparisons"]} == {r.expression for r in confirmed if not r.reference}
    assert len(verdict["summary"]) >= len(PLAN.references)  # at least a sentence per reference
    refs = _rows(run, role="reference")
    assert sorted(r.reference for r in refs) == sorted(PLAN.references)
    assert all(len(r.seeds) == FINAL and r.status == "ok" for r in refs)
    state = store.load_state(STATE)
    assert state["done"] == ["exhaustive", *(f"rung{k + 1}" for k in range(len(PLAN.rungs))), "rl", "top-up",
                             "confirm"]
    survivors = state["rungs"]["rung1"]
    assert len(survivors) == PLAN.rungs[0][0]
    seeds = {r.id: len(r.seeds) for r in search}
    assert all(seeds[i] >= PLAN.rungs[0][1] for i in survivors)
    assert store.pending() == []
    return {"exhaustive": sorted(r.fingerprint for r in by["exhaustive"]), "survivors": survivors,
            "scores": {r.fingerprint: round(r.score, 6) for r in by["exhaustive"]}}


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("rediscover") / "run"
    t0 = time.perf_counter()
    out = subprocess.run(CLI + ["search", "--preset", "rediscover", "--smoke", "--run-dir", str(run)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return run, time.perf_counter() - t0, out.stdout


def test_smoke_preset_stores_three_phases_and_ranks_by_multi_seed_scores(smoke_run):
    run, wall, stdout = smoke_run
    _check_store(run)
    assert "phase a" in stdout and "phase b" in stdout and "phase c" in stdout
    found = stdout[stdout.index("found (fresh seeds, paired, Holm-corrected):"):].splitlines()[1:-1]
    assert stdout.startswith(SMOKE_BANNER) and stdout.splitlines()[-1] == SMOKE_BANNER  # it says it is a smoke run
    assert [line.strip() for line in found] == json.loads((run / VERDICT).read_text())["summary"]
    meta = SqliteStore(run, readonly=True).meta()
    assert meta["preset"] == "rediscover-smoke" and meta["plan"]["rl_candidates"] == PLAN.rl_candidates
    out = subprocess.run(CLI + ["leaderboard", str(run), "--format", "json"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    board = json.loads(out.stdout)
    ranked = [e for e in board if e["rank"] is not None]
    scores = [e["score"] for e in ranked]
    assert scores == sorted(scores, reverse=True)
    assert all(e["seeds"] == FINAL for e in ranked[:PLAN.top])  # the top holds multi-seed scores only
    stored = {r.id: r for r in _rows(run)}
    for e in ranked[:PLAN.top]:
        assert e["score"] == pytest.approx(stored[e["id"]].score)
        assert e["score"] == pytest.approx(sum(x["score"] for x in stored[e["id"]].runs) / FINAL)
    refs = {e["expression"] for e in board if e["rank"] is None}
    assert len(refs) == len(PLAN.references)


def test_smoke_run_ranks_swish_above_relu_above_every_linear_candidate(smoke_run):
    """The README's first command must show a believable order: on mnist1d (400 steps) Swish beats
    ReLU, and functions that make the network linear (x + x, x + beta*x) rank well below ReLU."""
    run, _, _ = smoke_run
    out = subprocess.run(CLI + ["leaderboard", str(run), "--format", "json"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    board = json.loads(out.stdout)
    refs = {e["reference"]: e["score"] for e in board if e["reference"]}
    assert refs["swish"] > refs["relu"] + 0.02 and refs["gelu"] > refs["relu"]
    linear = [e for e in board if e["linear"] and e["status"] == "ok"]
    assert {e["expression"] for e in linear} >= {"x + x", "x + beta * x"}  # the smoke's space holds some
    assert all(e["score"] < refs["relu"] - 0.05 for e in linear), linear


def test_sigkilled_preset_resumed_repeatedly_evaluates_each_candidate_once(smoke_run, tmp_path):
    run = tmp_path / "run"
    rng = random.Random(7)
    # kill points in every phase: after k stored seed runs (6 + 3 refs = phase a, +4 rung1 +3 refs, +rl,
    # +top-up, + (2 + 3) x 3 confirmation)
    targets = [rng.randint(2, 8), rng.randint(11, 15), rng.randint(17, 21), rng.randint(26, 34)]
    kills = kill_at(CLI + ["search", "--preset", "rediscover", "--smoke", "--run-dir", str(run)],
                    CLI + ["resume", str(run)], run, targets, rng,
                    wait_s=200, jitter_s=1.5)
    assert kills >= 2
    out = subprocess.run(CLI + ["resume", str(run)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    again = subprocess.run(CLI + ["resume", str(run)], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "phase a" not in again.stdout and "rescore" not in again.stdout  # nothing redone
    assert "[confirm]" not in again.stdout and "found (fresh seeds" in again.stdout  # the verdict, not retrained
    got, ref = _check_store(run), _check_store(smoke_run[0])
    assert got["exhaustive"] == ref["exhaustive"]  # the same candidates as the uninterrupted run
    # deterministic training: the references' fresh-seed scores are those of the uninterrupted run
    for name in PLAN.references:
        a = next(r for r in _rows(run, role=Role.CONFIRMATION) if r.reference == name)
        b = next(r for r in _rows(smoke_run[0], role=Role.CONFIRMATION) if r.reference == name)
        assert [x["score"] for x in a.runs] == pytest.approx([x["score"] for x in b.runs])
