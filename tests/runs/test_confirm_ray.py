"""``actsearch confirm --workers 2``: the confirmation trains as Ray Tune trials on an embedded
Ray and gives the same stored rows and the same verdict as the in-process one (the scores are
seed-determined); a ``panel:`` task's run is confirmed like any other."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import actsearch
from actsearch.cli import app
from actsearch.errors import UserError
from actsearch.results.records import Role

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

TINY = {"steps": 20}
runner = CliRunner()


def _tiny_run(run_dir, task="digits", settings=TINY):
    actsearch.run_search(space="quick", searcher="random", task=task, budget=3, settings=settings,
                         references=("relu",), run_dir=run_dir, seed=1).close()
    return run_dir


def _scores(run_dir) -> dict:
    with actsearch.open_run(run_dir) as run:
        return {(r.reference or r.fingerprint): sorted((s["seed"], s["score"]) for s in r.runs)
                for r in run.records(role=Role.CONFIRMATION) if r.trained}


@pytest.mark.slow
def test_confirm_on_ray_equals_in_process(tmp_path):
    here, there = _tiny_run(tmp_path / "here"), _tiny_run(tmp_path / "there")
    local = actsearch.confirm(here, top=2, seeds=3).to_json()
    result = runner.invoke(app, ["confirm", str(there), "--top", "2", "--seeds", "3", "--workers", "2",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == local
    assert _scores(there) == _scores(here) and len(_scores(here)) == 3


def test_confirm_refuses_zero_workers(tmp_path):
    result = runner.invoke(app, ["confirm", str(tmp_path), "--workers", "0"])
    assert isinstance(result.exception, UserError) and "--workers must be at least 1" in str(result.exception)


def test_confirm_a_panel_run(tmp_path):
    """A ``panel:`` run (a built-in trained for real and a replayed table) is confirmed on its panel:
    every fresh seed trains each member, and the verdict compares the panel scores."""
    from pathlib import Path

    table = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "x-gated-mnist1d.csv"
    task = f"panel:digits,table:{table}"
    run_dir = _tiny_run(tmp_path / "panel", task=task, settings={**TINY, "reference_seeds": 2, "min_sd": 0.01})
    doc = actsearch.confirm(run_dir, top=2, seeds=3).to_json()
    assert doc["task"].startswith("panel:") and doc["seeds"] == [1000, 1001, 1002]
    assert len(doc["comparisons"]) == len(doc["candidates"]) >= 1
    assert all(c["n"] == 3 and c["against"] == "relu" for c in doc["comparisons"])
    with actsearch.open_run(run_dir) as run:
        rows = [r for r in run.records(role=Role.CONFIRMATION) if r.trained]
        assert len(rows) >= 2 and any(r.reference == "relu" for r in rows)
        for r in rows:  # each seed trained both members
            assert all({"panel.score/digits", f"panel.score/table:{table}"} <= set(s["metrics"]) for s in r.runs)
        assert run.verdicts().to_json() == doc
