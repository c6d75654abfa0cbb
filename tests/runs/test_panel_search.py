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

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

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


def test_member_tables_of_a_panel_run(local_ray, tmp_path):
    """``table_from_run.py --member`` writes each member's seed-0 score (or its own failure) and leaves
    out the functions whose seed stopped at an earlier member, so ``make_table.py`` can fill them."""
    import csv
    import importlib.util

    from actsearch.evaluators.result import PANEL_Z

    spec = importlib.util.spec_from_file_location("table_from_run", DATA / "table_from_run.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    run = tmp_path / "run"
    _search(run, 40, "--no-prescreen")
    trained = [r for r in SqliteStore(run, readonly=True).candidates(role="search", include_aliases=False)
               if r.runs]
    passed_first = {r.fingerprint for r in trained if PANEL_Z + DEEP in (r.runs[0].get("metrics") or {})}
    failed_first = {r.fingerprint for r in trained} - passed_first
    assert passed_first and failed_first  # the deep table's diverged rows stop a seed at the first member
    for member, reached in ((DEEP, passed_first | failed_first), (SHALLOW, passed_first)):
        truth = {r["fingerprint"]: r for r in csv.DictReader(open(member.removeprefix("table:"), newline=""))}
        out = tmp_path / "member.csv"
        assert tool.main([str(run), "--member", member, "--out", str(out)]) == 0
        rows = list(csv.DictReader(out.open(newline="")))
        trivial = [r for r in rows if r["fingerprint"] not in passed_first | failed_first]
        assert all(r["status"] == "invalid" for r in trivial)  # stored untrained: the same row in every table
        rows = [r for r in rows if r not in trivial]
        assert {r["fingerprint"] for r in rows} == reached and len(rows) == len(reached)
        for row in rows:
            want = truth[row["fingerprint"]]
            assert row["status"] == want["status"]
            assert float(row["score"]) == pytest.approx(float(want["score"]) if want["status"] == "ok" else 0.0)
