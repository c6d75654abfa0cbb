"""``actsearch confirm``: a real tiny run's top candidates and references trained on fresh seeds
(role ``confirmation``, seeds 1000 ..), the verdict's JSON shape, resuming, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

import actsearch
from actsearch.cli import app
from actsearch.errors import UserError
from actsearch.results.records import CONFIRM_SEED_BASE, Role

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

TINY = {"steps": 20}  # digits with a handful of steps: real training well under a second
runner = CliRunner()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("confirm") / "run"
    actsearch.run_search(space="quick", searcher="random", task="digits", budget=3, settings=TINY,
                         references=("relu",), run_dir=run_dir, seed=1).close()
    return run_dir


def _trained(run_dir) -> list:
    with actsearch.open_run(run_dir) as run:
        return [r for r in run.records(role=Role.CONFIRMATION) if r.trained]


def test_confirm_trains_fresh_seeds_stores_them_apart_and_resumes(tiny_run):
    with actsearch.open_run(tiny_run) as run:
        board_before = [(e.expression, e.score) for e in run.leaderboard(properties=False)]
    result = runner.invoke(app, ["confirm", str(tiny_run), "--top", "2", "--seeds", "3", "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc) == {"alpha", "seeds", "task", "paired", "comparisons", "candidates"}
    assert doc["seeds"] == [1000, 1001, 1002] and doc["paired"] is True and doc["alpha"] == 0.05
    assert doc["task"] == "digits[steps=20]"
    assert len(doc["candidates"]) == 2 and len(doc["comparisons"]) == 2
    assert {c["against"] for c in doc["comparisons"]} == {"relu"}
    for c in doc["comparisons"]:
        assert c["n"] == 3 and c["verdict"] in ("better", "worse", "no clear difference")
        assert c["p"] <= c["p_adjusted"] <= 1.0
    for c in doc["candidates"]:
        assert c["overstatement"] == pytest.approx(c["search_score"] - c["confirmed_mean"])
    rows = _trained(tiny_run)
    assert len(rows) == 3 and {r.reference for r in rows} == {None, "relu"}  # 2 candidates + relu
    assert all(r.role == Role.CONFIRMATION and min(r.seeds) >= CONFIRM_SEED_BASE and len(r.runs) == 3 for r in rows)
    assert sorted(run["seed"] for run in rows[0].runs) == [1000, 1001, 1002]  # the task trained on them
    with actsearch.open_run(tiny_run) as run:  # the leaderboard still shows the search's rows only
        assert [(e.expression, e.score) for e in run.leaderboard(properties=False)] == board_before

    again = actsearch.confirm(tiny_run, top=2, seeds=3)  # nothing new to train: the same verdict
    assert again.to_json() == doc
    assert [(r.id, r.seeds, r.created_at) for r in _trained(tiny_run)] == [(r.id, r.seeds, r.created_at)
                                                                           for r in rows]
    more = actsearch.confirm(tiny_run, top=2, seeds=4)  # one more seed: only that one is trained
    assert more.seeds == (1000, 1001, 1002, 1003)
    grown = _trained(tiny_run)
    assert [r.id for r in grown] == [r.id for r in rows] and all(len(r.runs) == 4 for r in grown)
    sequential = actsearch.confirm(tiny_run, top=2, seeds=2, max_seeds=4)  # looks after 2 and 4 seeds
    assert sequential.looks == 2 and sequential.seeds in ((1000, 1001), (1000, 1001, 1002, 1003))
    assert len(_trained(tiny_run)) == 3  # the seeds were there: nothing new trained
    table = runner.invoke(app, ["confirm", str(tiny_run), "--top", "2", "--seeds", "3"])
    assert table.exit_code == 0 and "winner's curse" in table.stdout and "paired by seed" in table.stdout
    csv_out = runner.invoke(app, ["confirm", str(tiny_run), "--top", "2", "--seeds", "3", "--format", "csv"])
    assert csv_out.exit_code == 0 and csv_out.stdout.startswith("expression,against,n,mean_diff")


@pytest.mark.parametrize("args, message", [
    (["--top", "0"], "--top must be at least 1"),
    (["--seeds", "1"], "no test possible with one seed"),
    (["--against", "relu,nosuch"], "unknown reference 'nosuch'"),
    (["--alpha", "1.5"], "alpha must be between 0 and 1"),
    (["--alpha", "0"], "alpha must be between 0 and 1"),
    (["--format", "xml"], "--format must be one of"),
    (["--max-seeds", "6"], "--max-seeds needs --until-decided"),
    (["--until-decided", "--seeds", "3", "--max-seeds", "3"], "--max-seeds must be more than --seeds"),
])
def test_bad_options_are_one_line_errors(tiny_run, args, message):
    result = runner.invoke(app, ["confirm", str(tiny_run), *args])
    assert isinstance(result.exception, UserError) and message in str(result.exception)


BROKEN = """
import actsearch


@actsearch.task("broken")
def task(act, seed, report, settings):
    raise RuntimeError("this task always fails")
"""


def test_an_empty_run_is_refused_in_one_line(tmp_path):
    (tmp_path / "broken_task.py").write_text(BROKEN)
    run_dir = tmp_path / "empty"
    actsearch.run_search(space="quick", searcher="random", task=f"{tmp_path / 'broken_task.py'}:task", budget=1,
                         references=(), run_dir=run_dir).close()
    with actsearch.open_run(run_dir) as run:
        assert not [e for e in run.leaderboard(properties=False) if e.rank is not None]
    with pytest.raises(UserError, match="no successful search candidate"):
        actsearch.confirm(run_dir, top=1, seeds=2)


def test_cli_one_line_exit_2():
    done = subprocess.run([sys.executable, "-m", "actsearch.cli", "confirm", "nowhere", "--seeds", "1"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert done.stderr.startswith("error: no test possible with one seed")


def test_confirm_on_a_user_task_file(tmp_path):
    from pathlib import Path

    ref = str(Path(__file__).resolve().parents[2] / "examples" / "own_loop.py") + ":task"
    run_dir = tmp_path / "own"
    actsearch.run_search(space="quick", searcher="random", task=ref, budget=2, settings={"steps": 30},
                         references=("relu",), run_dir=run_dir, seed=2).close()
    result = actsearch.confirm(run_dir, top=1, seeds=2)
    assert result.task == f"{ref}[steps=30]" and result.seeds == (1000, 1001) and result.paired
    assert [(c.against, c.n) for c in result.comparisons] == [("relu", 2)]


def test_confirm_on_another_task_leaves_the_winners_curse_out(tiny_run):
    """The search scores are on the run's task: on another task they are another scale, so the
    winner's-curse columns are empty there (and filled on the run's own task)."""
    other = actsearch.confirm(tiny_run, top=1, seeds=2, task="xor", overrides={"trials": 2}).to_json()
    assert other["task"].startswith("xor") and other["candidates"]
    assert all(c["search_score"] is None and c["overstatement"] is None for c in other["candidates"])
    own = actsearch.confirm(tiny_run, top=1, seeds=2).to_json()
    assert all(isinstance(c["search_score"], float) and c["overstatement"] is not None for c in own["candidates"])
