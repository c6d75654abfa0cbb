"""Leaderboard ranking, alias folding, references in place, validation columns and formats."""

from __future__ import annotations

import io
import json

import pytest

import actsearch
from actsearch.errors import UserError
from actsearch.results import formats
from tests.helpers.stores import TASK, VAL_TASK


@pytest.fixture(scope="module")
def run(run_dir):
    with actsearch.open_run(run_dir) as r:
        yield r


@pytest.fixture(scope="module")
def board(run):
    return run.leaderboard(include_failed=True)


def test_ranked_by_score_with_ties_broken_by_std(board):
    ranked = [e for e in board if e.rank is not None]
    assert [e.expression for e in ranked] == [
        "x * sigmoid(beta * x)", "max(x, 0) + 0.1 * x", "tanh(x) * x", "cos(x) + x", "sin(x)"]
    assert [e.rank for e in ranked] == [1, 2, 3, 4, 5]
    assert ranked[0].score == pytest.approx(0.95) and ranked[0].score_std == pytest.approx(0.01)
    assert ranked[3].score == ranked[4].score and ranked[3].score_std < ranked[4].score_std


def test_aliases_fold_into_one_row(run, board):
    rows = run.records(task=TASK, role="search")
    assert len(rows) == 8  # 6 evaluated + 1 alias + 1 invalid
    top = board[0]
    assert top.aliases == ["x / (1 + exp(-beta * x))"]
    assert all("exp(-beta" not in e.expression for e in board)
    assert top.params == {"beta": 1.5}
    assert len({e.fingerprint for e in board if e.role == "search"}) == len([e for e in board if e.role == "search"])


def test_references_unranked_in_place(board):
    order = [(e.rank, e.reference if e.role == "reference" else e.expression) for e in board if e.status == "ok"]
    assert order[:4] == [(1, "x * sigmoid(beta * x)"), (None, "swish"), (2, "max(x, 0) + 0.1 * x"), (None, "relu")]
    assert board[0].reference == "swish"  # the winner computes swish, and is marked so


def test_failed_only_with_all(run, board):
    assert all(e.status == "ok" for e in run.leaderboard())
    failed = [e for e in board if e.status != "ok"]
    assert [(e.expression, e.status) for e in failed] == [("exp(x)^3", "diverged"), ("x * 0", "invalid")]
    assert failed[0].error == "loss became nan at step 12" and failed[1].error == "constant"
    assert all(e.rank is None for e in failed)


def test_top_k_keeps_references_and_counts_only_candidates(run):
    top2 = run.leaderboard(top=2)
    assert [e.rank for e in top2 if e.rank] == [1, 2]
    assert {e.reference for e in top2 if e.role == "reference"} == {"relu", "swish"}


def test_validation_columns(board):
    top = board[0]
    assert top.val_task == VAL_TASK and top.val_seeds == 3 and top.val_score == pytest.approx(0.96)
    relu = next(e for e in board if e.role == "reference" and e.reference == "relu")
    assert relu.val_score == pytest.approx(0.91)
    swish = next(e for e in board if e.role == "reference" and e.reference == "swish")
    assert swish.val_score is None  # validated candidate is not the reference row


def test_properties_and_complexity(board):
    relu = next(e for e in board if e.reference == "relu")
    assert relu.complexity == 1 and relu.monotonic is True and relu.bounded_below is True
    assert relu.gain == pytest.approx(2 ** 0.5, rel=1e-3)
    assert board[0].dnr == pytest.approx(0.05)  # mean of the seeds' dead-neuron rates
    assert board[0].pd == pytest.approx(0.05)


def test_task_option_ranks_validation_rows(run):
    val = run.leaderboard(task=VAL_TASK)
    assert [(e.rank, e.role) for e in val] == [(1, "validation"), (None, "reference")]
    with pytest.raises(UserError, match="no candidates for task"):
        run.leaderboard(task="cifar10")


def test_entry_lookup(run):
    assert run.entry("1").expression == "x * sigmoid(beta * x)"
    assert run.entry("id:2").rank == 1  # the alias row leads to its function
    assert run.entry("relu").role == "reference"
    assert run.best().rank == 1
    for bad in ("99", "id:999", "nonsense!"):
        with pytest.raises(UserError):
            run.entry(bad)


def test_json_round_trip(board):
    data = formats.from_json(formats.to_json(board))
    assert data == json.loads(json.dumps(board.to_records()))
    for key in ("rank", "id", "expression", "canonical", "params", "score", "score_std", "status", "aliases"):
        assert key in data[0]


def test_csv_round_trip(board):
    text = formats.to_csv(board)
    assert formats.from_csv(text) == formats.from_json(formats.to_json(board))


def test_csv_loads_in_pandas(board):
    pd = pytest.importorskip("pandas")
    frame = pd.read_csv(io.StringIO(formats.to_csv(board)))
    assert list(frame["expression"])[:3] == [e.expression for e in board][:3]
    assert frame["score"].iloc[0] == pytest.approx(board[0].score)
    direct = board.to_pandas()
    assert len(direct) == len(board) and direct["rank"].iloc[0] == 1


def test_table_and_markdown(board):
    md = board.format("markdown")
    lines = md.strip().splitlines()
    assert len(lines) == 2 + len(board)
    assert lines[2].startswith("| 1 | x * sigmoid(beta * x)  (= swish) | 0.9500 ± 0.0100 |")
    table = board.format("table", width=200)
    assert "max(x, 0) + 0.1 * x" in table and "loss became nan at step 12" in table
    with pytest.raises(UserError, match="unknown format"):
        board.format("xml")


def test_markup_in_stored_text_is_not_interpreted():
    from actsearch.results.leaderboard import build
    from actsearch.results.records import decode
    from actsearch.results.store import new_row

    row = {**new_row("[bold red]x[/] | y", "a", task="t", trial=1, state="done", seeds=[0]), "id": 1,
           "status": "ok", "score": 0.5, "score_std": 0.0}
    recs = [decode(row)]
    board = build(recs, properties=False)
    assert "[bold red]x[/] | y" in board.format("table")
    assert "[bold red]x[/] \\| y" in board.format("markdown")


def test_a_narrow_terminal_drops_shape_columns_before_folding_the_expression(board):
    wide = board.format("table", width=250)
    narrow = board.format("table", width=80)
    assert "mono" in wide and "gain" in wide and "left out" not in wide
    assert "gain" not in narrow.splitlines()[0] and "(left out for the width of 80 columns: gain" in narrow
    assert "x * sigmoid(beta * x)  (= swish)" in narrow  # the expression is not folded into pieces
    assert max(len(line) for line in narrow.splitlines()) <= 80


def test_a_reference_that_failed_is_shown_with_all(tmp_path):
    """A reference that diverged (ReLU² on a deep plain MLP) is not ranked, and `--all` shows it
    with its error instead of dropping it."""
    from actsearch.results.store import SqliteStore
    from tests.helpers.stores import result

    text = actsearch.library.expression("relu2")
    with SqliteStore(tmp_path / "run") as store:
        store.init_run({"task": TASK, "searcher": "random", "space": "quick"})
        store.record("x * sigmoid(x)", actsearch.parse("x * sigmoid(x)").fingerprint, result([0.8, 0.81]),
                     task=TASK, role="search", trial=1, searcher="random", seeds=[0, 1])
        store.record(text, actsearch.parse(text).fingerprint,
                     result([0.0, 0.0], "diverged", "loss is not finite at step 1"), task=TASK,
                     role="reference", reference="relu2", searcher="reference", trial=2, seeds=[0, 1])
    with actsearch.open_run(tmp_path / "run") as run:
        assert [e.reference for e in run.leaderboard(properties=False) if e.role == "reference"] == []
        failed = [e for e in run.leaderboard(include_failed=True, properties=False) if e.status != "ok"]
    assert [(e.reference, e.status, e.rank, e.error) for e in failed] == [
        ("relu2", "diverged", None, "loss is not finite at step 1")]
