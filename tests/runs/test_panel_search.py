"""A search on a panel task through the normal CLI path (real Ray, real SQLite), resumed, with the
per-member scores in the leaderboard's table, CSV and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from actsearch.cli import app
from actsearch.results import formats
from actsearch.results.store import SqliteStore

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data"
DEEP, SHALLOW = f"table:{DATA / 'x-gated-mnist1d.csv'}", f"table:{DATA / 'x-gated-mnist1d-shallow.csv'}"
RELU = {DEEP: 0.74, SHALLOW: 0.6265}  # the tables' relu rows (no score_std: min_sd is the unit)


def _search(run: Path, budget: int, *extra: str) -> None:
    args = ["search", "--space", "x-gated", "--searcher", "random", "--task", f"panel:{DEEP},{SHALLOW}",
            "--budget", str(budget), "--set", "min_sd=0.01", "--set", "aggregate=min", "--references", "relu",
            "--plain", "--run-dir", str(run), *extra]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output


def test_panel_search_resume_and_leaderboard(local_ray, tmp_path):
    run = tmp_path / "run"
    _search(run, 5)
    again = CliRunner().invoke(app, ["resume", str(run), "--budget", "8", "--plain"])
    assert again.exit_code == 0, again.output
    rows = [r for r in SqliteStore(run, readonly=True).candidates(role="search") if r.trial is not None]
    assert len(rows) == 8 and len({r.fingerprint for r in rows}) == 8
    out = CliRunner().invoke(app, ["leaderboard", str(run), "--format", "json", "--all"])
    assert out.exit_code == 0, out.output
    board = formats.from_json(out.output)
    ok = [e for e in board if e["status"] == "ok"]
    assert ok, board
    for e in ok:
        z = {t: (e["panel"][t] - RELU[t]) / 0.01 for t in (DEEP, SHALLOW)}
        assert e["panel_z"] == pytest.approx(z)
        assert e["score"] == pytest.approx(min(z.values()))  # aggregate=min, kept on resume
    ref = next(e for e in board if e["role"] == "reference")
    assert ref["score"] == pytest.approx(0.0, abs=1e-9) and ref["panel"] == pytest.approx(RELU)
    table = CliRunner().invoke(app, ["leaderboard", str(run), "--format", "markdown"]).output
    head = table.splitlines()[0]
    assert "| x-gated-mnist1d.csv |" in head and "| x-gated-mnist1d-shallow.csv |" in head
    first = next(e for e in board if e["rank"] == 1)
    assert f"{first['panel'][DEEP]:.4f} ({first['panel_z'][DEEP]:+.2f})" in table
    csv_rows = formats.from_csv(CliRunner().invoke(app, ["leaderboard", str(run), "--format", "csv"]).output)
    assert [r["panel"] for r in csv_rows] == [e["panel"] for e in board if e["status"] == "ok"]
    show = CliRunner().invoke(app, ["show", str(run), "1", "--json"])
    assert show.exit_code == 0, show.output
    assert json.loads(show.output)["panel_z"] == first["panel_z"]
