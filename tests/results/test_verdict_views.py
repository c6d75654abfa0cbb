"""The verdicts of ``actsearch confirm`` in the views: rebuilt read-only from the stored
``confirmation`` rows (with the alpha the confirmation stored), shown in the leaderboard (every
format), ``show`` and the HTML report; a run without confirmation keeps its old outputs."""

from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

import actsearch
from actsearch.cli import app
from actsearch.results.formats import from_csv

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

TINY = {"steps": 20}
runner = CliRunner()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two identical tiny runs; the first is confirmed (2 candidates against relu and gelu, 3 seeds)."""
    base = tmp_path_factory.mktemp("views")
    out = []
    for name in ("confirmed", "plain"):
        actsearch.run_search(space="quick", searcher="random", task="digits", budget=3, settings=TINY,
                             references=("relu", "gelu"), run_dir=base / name, seed=1).close()
        out.append(base / name)
    doc = actsearch.confirm(out[0], top=2, seeds=3, alpha=0.2).to_json()
    return out[0], out[1], doc


def _cli(*args: str) -> str:
    result = runner.invoke(app, [*args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_run_rebuilds_the_stored_verdict_with_the_stored_alpha(runs):
    confirmed, plain, doc = runs
    with actsearch.open_run(confirmed) as run:
        assert run.meta["confirm"]["alpha"] == 0.2 and run.meta["confirm"]["seeds"] == [1000, 1001, 1002]
        assert run.verdicts().to_json() == doc  # the same statistics, read-only from the rows
        assert run.verdicts(alpha=0.05).alpha == 0.05
        frame = run.confirmed_frame()
        assert list(frame["against"]) == [c["against"] for c in doc["comparisons"]]
        assert list(frame["verdict"]) == [c["verdict"] for c in doc["comparisons"]]
    with actsearch.open_run(plain) as run:
        assert run.verdicts() is None and run.confirmed_frame().empty


def test_leaderboard_carries_one_symbol_per_reference(runs):
    confirmed, plain, doc = runs
    words = {(c["expression"], c["against"]): c["verdict"] for c in doc["comparisons"]}
    symbol = {"better": "▲", "worse": "▼", "no clear difference": "="}
    table = _cli("leaderboard", str(confirmed), "--no-properties")
    assert "vs relu / gelu" in table
    markdown = _cli("leaderboard", str(confirmed), "--no-properties", "--format", "markdown")
    head = markdown.splitlines()[0].split(" | ")
    col = next(i for i, h in enumerate(head) if h.strip(" |") == "vs relu / gelu")
    for line in markdown.splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        expr = next((e for e, _ in words if cells[1] == e), None)
        want = f"{symbol[words[(expr, 'relu')]]} / {symbol[words[(expr, 'gelu')]]}" if expr else ""
        assert cells[col] == want, line
    rows = json.loads(_cli("leaderboard", str(confirmed), "--no-properties", "--format", "json"))
    assert {(r["expression"], ref): v for r in rows for ref, v in r["vs"].items()} == words
    back = from_csv(_cli("leaderboard", str(confirmed), "--no-properties", "--format", "csv"))
    assert [r["vs"] for r in back] == [r["vs"] for r in rows]  # CSV round-trips the verdicts

    for fmt in ("table", "markdown", "json", "csv"):  # no confirmation: no column, no field
        text = _cli("leaderboard", str(plain), "--no-properties", "--format", fmt)
        assert "vs relu" not in text and '"vs"' not in text
    assert "vs" not in next(csv.reader(io.StringIO(_cli("leaderboard", str(plain), "--format", "csv"))))


def test_show_and_report_give_each_difference_with_its_interval(runs, tmp_path):
    confirmed, plain, doc = runs
    first = doc["comparisons"][0]
    info = json.loads(_cli("show", str(confirmed), "1", "--json"))
    conf = info["confirmation"]
    assert conf["alpha"] == 0.2 and conf["seeds"] == [1000, 1001, 1002]
    assert conf["comparisons"] == [c for c in doc["comparisons"] if c["expression"] == info["expression"]]
    text = _cli("show", str(confirmed), "1")
    assert "confirmed on" in text and "vs relu: mean diff" in text and "p_adj" in text
    assert "confirmation" not in json.loads(_cli("show", str(plain), "1", "--json"))

    _cli("report", str(confirmed), "--out", str(tmp_path / "r.html"))
    html = (tmp_path / "r.html").read_text()
    assert "<h2>Confirmation</h2>" in html and 'id="confirmation"' in html
    assert f"{first['mean_diff']:+.4f}" in html and "each difference with its 95% interval" in html
    _cli("report", str(plain), "--out", str(tmp_path / "p.html"))
    assert "<h2>Confirmation</h2>" not in (tmp_path / "p.html").read_text()
