"""The table:FILE replay task and the plain driver replaying searchers on a scored space."""

from __future__ import annotations

import csv
import json

import pytest

from actsearch.errors import UserError
from actsearch.evaluators import get_task
from actsearch.evaluators.table import TableTask
from actsearch.grammar import parse
from actsearch.search.space.dedup import distinct
from tests.helpers.loop import SEARCHERS, make_searcher, run_search
from tests.helpers.scoring import score_of


def write_table(path, space):
    rows = [
        {"expression": text, "params": json.dumps(params), "fingerprint": fp, "status": "ok",
         "score": score_of(fp), "wall_s": 1.0}
        for _, text, params, fp in distinct(space)
    ]
    rows[0]["status"], rows[0]["score"] = "diverged", 0.0
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows


def test_table_task_looks_up_by_fingerprint(tmp_path, tiny_space):
    rows = write_table(tmp_path / "t.csv", tiny_space)
    task = get_task(f"table:{tmp_path / 't.csv'}")
    assert isinstance(task, TableTask) and task.config.rows == len(rows)
    best = max(rows[1:], key=lambda r: r["score"])
    res = task.evaluate_seed(parse(best["expression"]), seed=3)
    assert (res.status, res.score, res.seed) == ("ok", best["score"], 3)
    assert task.evaluate_seed(rows[0]["expression"], 0).status == "diverged"
    missing = task.evaluate_seed(parse("x * erf(x) + cos(x)"), 0)
    assert missing.status == "invalid" and missing.score == 0.0


def test_table_json_and_recomputed_fingerprints(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"rows": [{"expression": "x * sigmoid(x)", "score": 0.7}]}))
    task = TableTask(path)  # no fingerprint column: computed from the expressions on a miss
    assert task.evaluate_seed(parse("sigmoid(x) * x"), 0).score == 0.7


@pytest.mark.parametrize("text", ["expression,score\n,1\n", "expression,score\nx,abc\n", "expression,status\nx,weird\n"])
def test_bad_tables_are_user_errors(tmp_path, text):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(UserError):
        TableTask(path)
    with pytest.raises(UserError, match="no score table"):
        TableTask(tmp_path / "absent.csv")


@pytest.mark.train
@pytest.mark.parametrize("name", SEARCHERS)
def test_driver_replays_every_searcher_to_the_best(tmp_path, tiny_space, name):
    rows = write_table(tmp_path / "t.csv", tiny_space)
    task = TableTask(tmp_path / "t.csv")
    best = max(r["score"] for r in rows)
    seen = []
    trials = run_search(make_searcher(name, tiny_space, seed=0), task, on_result=seen.append)
    assert len(trials) == len(rows) and seen == trials  # finished the space, reporting each trial
    assert max(t.result.score for t in trials) == best
    statuses = {t.proposal.fingerprint: t.result.status for t in trials}  # any alias's text may come first
    assert statuses[rows[0]["fingerprint"]] == "diverged"
    stop = run_search(make_searcher(name, tiny_space, seed=0), task, stop=lambda t: t.result.score == best)
    assert stop[-1].result.score == best and len(stop) <= len(trials)
    assert len(run_search(make_searcher(name, tiny_space, seed=0), task, budget=5)) == 5
