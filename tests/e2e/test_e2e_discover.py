"""The discover preset end to end (``--smoke``): real Ray, real training on both panels, real SQLite.

One uninterrupted run checks what the store holds (the search phase's budget, halving, the held-out
validation of the top and the references), ``discover.json``'s format against the store, and the
leaderboard; a second run is SIGKILLed in the search and in the held-out phase and resumed until
it finishes: every seed is evaluated once and the deterministic held-out references score as in
the uninterrupted run."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from actsearch.evaluators.result import PANEL_SCORE
from actsearch.results.banner import SMOKE_BANNER
from actsearch.results.records import CONFIRM_SEED_BASE, Role
from actsearch.results.store import SqliteStore
from actsearch.search.pipelines import get_pipeline
from actsearch.search.pipelines.discover import TABLE, phase_names
from actsearch.search.pipelines.phases import STATE, VERDICT
from tests.helpers.kill import kill_at

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]  # a smoke discover run: 4 min idle, 10+ loaded

CLI = [sys.executable, "-m", "actsearch.cli"]
PLAN = get_pipeline("discover-smoke").plan
ARGS = ["search", "--preset", "discover", "--smoke", "--run-dir"]


def _check_store(run: Path) -> dict:
    """The invariants of a finished discover smoke run; returns the held-out rows by key."""
    store = SqliteStore(run, readonly=True)
    search = [r for r in store.candidates(task=PLAN.search_task, role="search", include_aliases=False) if r.trained]
    assert len(search) == PLAN.search_budget and {r.searcher for r in search} == {PLAN.searcher}
    assert len({r.fingerprint for r in search}) == len(search)
    for r in store.candidates():  # each seed evaluated once; the confirmation's on fresh seeds
        first = CONFIRM_SEED_BASE if r.role == Role.CONFIRMATION else 0
        assert sorted(r.seeds) == list(range(first, first + len(r.seeds))) and len(r.runs) == len(r.seeds), r
    confirmed = store.candidates(task=PLAN.search_task, role=Role.CONFIRMATION, include_aliases=False)
    assert len(confirmed) == PLAN.confirm_top + len(PLAN.references)
    assert all(len(r.seeds) == PLAN.confirm_seeds for r in confirmed)
    refs = store.candidates(task=PLAN.search_task, role="reference", include_aliases=False)
    assert sorted(r.reference for r in refs) == sorted(PLAN.references)
    assert all(len(r.seeds) == PLAN.rungs[-1][1] for r in refs)
    state = store.load_state(STATE)
    assert state["done"] == list(phase_names(PLAN)) and len(state["held_out"]) == PLAN.top
    held = store.candidates(task=PLAN.held_out_task, settings=PLAN.held_out_overrides, role="validation",
                            include_aliases=False)
    assert len(held) == PLAN.top + len(PLAN.references) and all(len(r.seeds) == PLAN.seeds for r in held)
    by_id = {r.id: r for r in search}
    assert {by_id[i].fingerprint for i in state["held_out"]} == {r.fingerprint for r in held if not r.reference}
    assert store.pending() == []
    return {r.reference or r.fingerprint: r for r in held}


@pytest.fixture(scope="module")
def discover_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("discover") / "run"
    out = subprocess.run(CLI + ARGS + [str(run)], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    return run, out.stdout


def test_smoke_discover_stores_every_phase_and_writes_the_held_out_table(discover_run):
    run, stdout = discover_run
    held = _check_store(run)
    assert "phase a" in stdout and "phase c" in stdout and f"wrote {run / TABLE}" in stdout
    table = json.loads((run / TABLE).read_text())
    # the final words: the fresh-seed confirmation's, then the held-out comparisons'
    verdict = json.loads((run / VERDICT).read_text())
    assert table["confirmation"] == verdict and table["summary"][:len(verdict["summary"])] == verdict["summary"]
    assert len(table["summary"]) > len(verdict["summary"])
    comparisons = table["comparisons"]  # every validated candidate x reference x architecture, Holm over all
    ok = [c for c in table["candidates"] if c["held_out"] and not c["reference"]]  # a diverged one has no test
    assert ok and len(comparisons) == len(ok) * len(PLAN.references) * len(PLAN.held_out)
    assert {c["task"] for c in comparisons} == set(PLAN.held_out)
    assert all(c["p_adjusted"] >= c["p"] and c["n"] == PLAN.seeds for c in comparisons)
    found = stdout[stdout.index("found (fresh seeds, paired, Holm-corrected):"):].splitlines()[1:-1]
    assert stdout.startswith(SMOKE_BANNER) and stdout.splitlines()[-1] == SMOKE_BANNER  # it says it is a smoke run
    assert [line.strip() for line in found] == table["summary"]
    assert table["held_out_task"] == PLAN.held_out_task and table["architectures"] == list(PLAN.held_out)
    cands = table["candidates"]
    assert len(cands) == PLAN.top + len(PLAN.references)
    keys = [c["held_out_score"] for c in cands]
    done = [k for k in keys if k is not None]
    assert done == sorted(done, reverse=True) and keys[:len(done)] == done  # best first, failures last
    for c in cands:
        rec = held[c["reference"] or c["fingerprint"]]
        assert c["expression"] == rec.expression and c["params"] == rec.params
        assert c["search"] is not None and c["search"]["seeds"] == PLAN.rungs[-1][1]
        for name, cell in c["held_out"].items():  # the per-architecture figures are the stored seeds'
            scores = [run_["metrics"][PANEL_SCORE + name] for run_ in rec.runs]
            assert cell["mean"] == pytest.approx(sum(scores) / len(scores)) and cell["seeds"] == PLAN.seeds
    relu = next(c for c in cands if c["reference"] == "relu")
    # ReLU's held-out reference is ReLU on the same seeds, trained deterministically: z = 0 exactly
    assert relu["held_out_score"] == pytest.approx(0.0, abs=1e-9)
    out = subprocess.run(CLI + ["leaderboard", str(run), "--format", "json"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    board = json.loads(out.stdout)
    assert any(e["val_task"] and e["val_task"].startswith(PLAN.held_out_task) for e in board)


def test_sigkilled_discover_resumes_skipping_finished_phases(discover_run, tmp_path):
    run = tmp_path / "run"
    rng = random.Random(3)
    # seed runs stored: search 6 + 3 references; rung1 +2 survivors +3 references; held-out 5 × 2;
    # confirmation 5 × 3
    targets = [rng.randint(3, 8), rng.randint(16, 21), rng.randint(26, 36)]
    kills = kill_at(CLI + ARGS + [str(run)], CLI + ["resume", str(run)], run, targets, rng,
                    wait_s=600, jitter_s=1.0)
    assert kills >= 2
    out = subprocess.run(CLI + ["resume", str(run)], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "phase 0" not in out.stdout and "phase a" not in out.stdout  # finished phases are skipped
    again = subprocess.run(CLI + ["resume", str(run)], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "[held-out]" not in again.stdout and "phase c" not in again.stdout
    assert "[confirm]" not in again.stdout  # nothing retrained: the verdict is recomputed from the store
    got, ref = _check_store(run), _check_store(discover_run[0])
    for name in PLAN.references:  # deterministic training: the same held-out scores as the uninterrupted run
        assert [x["score"] for x in got[name].runs] == pytest.approx([x["score"] for x in ref[name].runs])
    assert json.loads((run / TABLE).read_text())["candidates"]


def test_smoke_discover_around_validates_the_alphaevolve_finds_and_reports_learned_constants(tmp_path):
    """discover-around's smoke run: the search over around:gelu, the finds validated as candidates beside
    the top, each tested against gelu on every held-out architecture, and where β ended."""
    from actsearch.grammar import library

    plan = get_pipeline("discover-around-smoke").plan
    run = tmp_path / "around"
    out = subprocess.run(CLI + ["search", "--preset", "discover-around", "--smoke", "--run-dir", str(run)],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "phase c: the top 2, gelu-sine, gelu-sinc and relu, swish, gelu" in out.stdout
    store = SqliteStore(run, readonly=True)
    search = [r for r in store.candidates(task=plan.search_task, role="search", include_aliases=False) if r.trained]
    assert search and all("gelu(" in r.expression for r in search)  # every candidate is around GELU
    table = json.loads((run / TABLE).read_text())
    rows = {c["expression"]: c for c in table["candidates"]}
    finds = [library.expression(name) for name in plan.also]
    assert set(finds) <= set(rows) and not any(rows[f]["reference"] for f in finds)
    for find in finds:  # tested against gelu on each held-out architecture (unless it diverged)
        if rows[find]["held_out"]:
            assert set(rows[find]["vs"]["gelu"]) == set(plan.held_out)
    learned = [c for c in table["candidates"] if "beta" in c["params"] and c["held_out"]]
    assert learned, "no validated candidate with a learnable beta"
    for c in learned:
        beta = c["learned"]["beta"]
        assert beta["seeds"] == plan.seeds and beta["low"] <= beta["mean"] <= beta["high"]
    assert "learned beta:" in out.stdout
    assert rows[finds[0]]["learned"] == {}  # the finds' constants are fixed
