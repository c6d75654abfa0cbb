"""Predicted scores (the surrogate's, stored in metrics): the leaderboard's ``pred`` column in every
format, and the report's predicted-vs-real plot — shown only when a run has predictions."""

from __future__ import annotations

import json
import math

import pytest
from test_results_plots_report import png_size

import actsearch
from actsearch.results import formats, plots
from tests.helpers.stores import PREDICTED, SEARCH, fill

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier


@pytest.fixture(scope="module")
def predicted_dir(tmp_path_factory):
    return fill(tmp_path_factory.mktemp("predicted") / "run", predicted=True)


def test_leaderboard_carries_the_predicted_score_in_every_format(predicted_dir):
    with actsearch.open_run(predicted_dir) as run:
        board = run.leaderboard(include_failed=True)
    want = {text: p for (text, *_), p in zip(SEARCH, PREDICTED, strict=True)}
    by_expr = {e.expression: e for e in board if e.role == "search"}
    for text, p in want.items():
        assert by_expr[text].predicted == p and by_expr[text].predicted_spread == 0.02
    assert all(e.predicted is None for e in board if e.role == "reference")
    as_json = {(r["role"], r["reference"] or r["expression"]): r for r in json.loads(board.format("json"))}
    assert as_json["search", "sin(x)"]["predicted"] == 0.70 and as_json["reference", "relu"]["predicted"] is None
    as_csv = {(r["role"], r["reference"] or r["expression"]): r for r in formats.from_csv(board.format("csv"))}
    assert as_csv["search", "tanh(x) * x"]["predicted"] == 0.85 and as_csv["reference", "relu"]["predicted"] is None
    head, rows = formats.columns(board)
    assert head[2:4] == ["score", "pred"]
    cells = {r[1]: r[3] for r in rows}
    assert cells["max(x, 0) + 0.1 * x"] == "0.9500" and cells["relu"] == ""
    md = board.format("markdown").splitlines()
    assert md[0].startswith("| rank | expression | score | pred | seeds")
    table = board.format("table", width=220)
    assert " pred " in table.splitlines()[0] and "0.6000" in table  # the diverged one's forecast


def test_no_pred_column_without_predictions(run_dir):
    with actsearch.open_run(run_dir) as run:
        board = run.leaderboard()
    assert all(e.predicted is None for e in board)
    assert "pred" not in formats.columns(board)[0] and "| pred |" not in board.format("markdown")


def test_spearman_matches_scipy():
    stats = pytest.importorskip("scipy.stats")  # the oracle (installed with scikit-learn)
    xs, ys = [0.1, 0.5, 0.5, 0.9, 0.3, 0.7], [0.2, 0.6, 0.1, 0.8, 0.4, 0.4]
    assert plots.spearman(xs, ys) == pytest.approx(stats.spearmanr(xs, ys).statistic)
    assert plots.spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert math.isnan(plots.spearman([1, 2], [1, 2])) and math.isnan(plots.spearman([1, 1, 1], [1, 2, 3]))


def test_report_adds_the_predicted_vs_real_plot(predicted_dir, run_dir, tmp_path):
    with actsearch.open_run(predicted_dir) as run:
        records = run.records()
        points = plots.predictions(records)
        html = run.report(tmp_path / "pred.html").read_text()
    real = {text: (sum(s) / len(s) if status == "ok" else 0.0) for text, _, s, status, _ in SEARCH}
    assert sorted(points) == sorted((p, pytest.approx(real[t]), st == "ok")
                                    for (t, _, _, st, _), p in zip(SEARCH, PREDICTED, strict=True))
    assert png_size(plots.predicted_figure(records)) == (550, 500)
    assert "<h2>Predicted vs. real</h2>" in html and html.count("data:image/png;base64,") == 3
    assert "<th>pred</th>" in html
    with actsearch.open_run(run_dir) as run:
        plain = run.report(tmp_path / "plain.html").read_text()
    assert "Predicted vs. real" not in plain and plain.count("data:image/png;base64,") == 2
