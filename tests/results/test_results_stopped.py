"""Candidates stopped early (successive halving) in the views: ranked after every candidate that
finished, by their partial score among themselves, with the step they reached (``stopped@33`` in
the table, ``steps`` in CSV and JSON), in the leaderboard, ``show`` and the HTML report. The run
store is real SQLite, written through the store's writer API."""

from __future__ import annotations

import csv
import io
import json

import pytest

import actsearch
from actsearch.evaluators.result import CandidateResult, EvalResult, Status
from actsearch.results import formats
from actsearch.results.leaderboard import rank_key
from actsearch.results.store import SqliteStore
from tests.helpers.cli import run_cli

TASK = "digits"
FULL = 300  # the task's steps: what a finished row reached

# expression, per-seed scores, status, the step reached
ROWS = [
    ("tanh(x) * x", [0.90, 0.90], Status.OK, FULL),
    ("x * sigmoid(x)", [0.80, 0.80], Status.OK, FULL),
    ("sin(x) + x", [0.85], Status.STOPPED, 33),  # a partial score above two finished rows
    ("erf(x) * x", [0.70, 0.70], Status.OK, FULL),
    ("cos(x) * x", [0.50], Status.STOPPED, 100),
    ("exp(x)^3", [0.0], Status.DIVERGED, 12),
]
FINISHED = ["tanh(x) * x", "x * sigmoid(x)", "erf(x) * x"]
STOPPED = ["sin(x) + x", "cos(x) * x"]  # in their order: by partial score


def _result(scores: list[float], status: Status, steps: int) -> CandidateResult:
    runs = [EvalResult(status=Status.OK if status == Status.STOPPED else status, score=s, seed=i,
                       metrics={"steps": steps}) for i, s in enumerate(scores)]
    res = CandidateResult.from_runs(runs, metrics={"steps": steps})
    if status == Status.STOPPED:  # as a rung stores it: the score at the rung, the step reached
        res.status, res.error = Status.STOPPED, f"stopped at step {steps}"
    return res


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("stopped") / "run"
    with SqliteStore(path) as store:
        store.init_run({"command": "actsearch search --space quick --task digits", "task": TASK,
                        "searcher": "random", "seed": 0, "space": "quick", "budget": 10})
        for step, (text, scores, status, steps) in enumerate(ROWS):
            act = actsearch.parse(text)
            store.record(text, act.fingerprint, _result(scores, status, steps), task=TASK, role="search",
                         trial=step + 1, canonical=act.canonical, searcher="random", step=step,
                         seeds=list(range(len(scores))), status=status)
        relu = actsearch.library.expression("relu")
        store.record(relu, actsearch.parse(relu).fingerprint, _result([0.75, 0.75], Status.OK, FULL), task=TASK,
                     role="reference", reference="relu", searcher="reference", trial=len(ROWS) + 1, seeds=[0, 1])
    return path


def test_a_stopped_candidate_ranks_below_every_finished_one(run_dir):
    with actsearch.open_run(run_dir) as run:
        board = run.leaderboard(include_failed=True, properties=False)
        default = run.leaderboard(properties=False)
        best = run.best()
    ranked = [e for e in board if e.rank is not None]
    assert [e.expression for e in ranked] == FINISHED + STOPPED
    assert [e.rank for e in ranked] == [1, 2, 3, 4, 5]
    assert [e.status for e in ranked] == [Status.OK] * 3 + [Status.STOPPED] * 2
    assert ranked[3].score == pytest.approx(0.85) and ranked[3].score > ranked[1].score  # higher, still below
    order = [e.reference or e.expression for e in board]
    assert order == ["tanh(x) * x", "x * sigmoid(x)", "relu", "erf(x) * x", *STOPPED, "exp(x)^3"]
    assert [e.expression for e in default if e.rank] == FINISHED + STOPPED  # stopped rows are ranked rows
    assert all(e.status != Status.DIVERGED for e in default)  # failures: with --all only, as before
    assert best.expression == "tanh(x) * x"
    assert [e.steps for e in ranked] == [FULL, FULL, FULL, 33, 100]
    assert sorted(ranked, key=rank_key) == ranked  # the one rule the pipelines rank by too


def test_top_k_cuts_the_stopped_rows_first_and_keeps_references_in_place(run_dir):
    with actsearch.open_run(run_dir) as run:
        top3 = run.leaderboard(top=3, properties=False)
        top4 = run.leaderboard(top=4, properties=False)
    assert [e.reference or e.expression for e in top3] == ["tanh(x) * x", "x * sigmoid(x)", "relu", "erf(x) * x"]
    assert [e.reference or e.expression for e in top4][-2:] == ["erf(x) * x", "sin(x) + x"]


def test_the_table_shows_the_step_a_stopped_candidate_reached(run_dir):
    code, out, err = run_cli("leaderboard", str(run_dir), "--no-properties")
    assert code == 0, err
    lines = out.splitlines()
    row = {name: next(i for i, line in enumerate(lines) if name in line) for name in FINISHED + STOPPED}
    assert row["erf(x) * x"] < row["sin(x) + x"] < row["cos(x) * x"]
    assert row["tanh(x) * x"] < row["x * sigmoid(x)"] < row["erf(x) * x"]
    assert "stopped@33" in lines[row["sin(x) + x"]] and "stopped@100" in lines[row["cos(x) * x"]]
    assert "@" not in lines[row["tanh(x) * x"]]  # a finished row reached the full budget: plain "ok"
    code, narrow, _ = run_cli("leaderboard", str(run_dir), "--format", "markdown")
    assert code == 0 and "| stopped@33 |" in narrow


def test_csv_and_json_carry_steps_for_every_row_in_the_same_order(run_dir):
    code, out, err = run_cli("leaderboard", str(run_dir), "--format", "json", "--all", "--no-properties")
    assert code == 0, err
    rows = json.loads(out)
    assert all("steps" in r for r in rows)
    ranked = [r for r in rows if r["rank"] is not None]
    assert [(r["expression"], r["status"], r["steps"]) for r in ranked] == \
        [(t, s.value, n) for t in FINISHED + STOPPED for (x, _, s, n) in ROWS if x == t]
    assert rows[-1]["status"] == "diverged" and rows[-1]["rank"] is None and rows[-1]["steps"] == 12
    code, text, err = run_cli("leaderboard", str(run_dir), "--format", "csv", "--all", "--no-properties")
    assert code == 0, err
    assert "steps" in next(csv.reader(io.StringIO(text)))
    back = formats.from_csv(text)
    assert [(r["expression"], r["rank"], r["steps"]) for r in back] == \
        [(r["expression"], r["rank"], r["steps"]) for r in rows]
    assert isinstance(back[3]["steps"], int)


def test_show_gives_the_rank_status_and_step_of_a_stopped_candidate(run_dir):
    code, out, err = run_cli("show", str(run_dir), "4", "--json")
    assert code == 0, err
    info = json.loads(out)
    assert (info["expression"], info["rank"], info["status"], info["steps"]) == ("sin(x) + x", 4, "stopped", 33)
    code, out, err = run_cli("show", str(run_dir), "3")
    assert code == 0, err
    assert "rank 3: erf(x) * x" in out  # the last finished candidate, above the stopped one
    code, out, err = run_cli("show", str(run_dir), "4")
    assert code == 0 and "rank 4: sin(x) + x" in out and "stopped" in out and "33" in out


def test_the_report_ranks_and_marks_stopped_rows(run_dir, tmp_path):
    out = tmp_path / "report.html"
    code, _, err = run_cli("report", str(run_dir), "--out", str(out))
    assert code == 0, err
    html = out.read_text()
    table = html[html.index('id="leaderboard"'):]
    table = table[:table.index("</table>")]
    assert table.index("erf(x) * x") < table.index("sin(x) + x") < table.index("cos(x) * x")
    assert '<tr class="stopped">' in table and "stopped@33" in table
    assert "2 stopped early" in html and "stopped@N" in html
