"""``benchmarks/bench_halving_run.py`` counts what a halving run trained (stopped candidates at the
step their rung fell on) and what it kept of a complete table's top, on a store written here."""

from __future__ import annotations

import csv
import sys

import pytest

import actsearch
from actsearch.evaluators.result import CandidateResult, EvalResult
from actsearch.results.store import SqliteStore

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2] / "benchmarks"))
import bench_halving_run  # noqa: E402


def _row(store: SqliteStore, text: str, trial: int, status: str, score: float, steps: int | None) -> str:
    act = actsearch.parse(text)
    metrics = {"checkpoints": [score] * (9 if status == "ok" else 3 if status == "stopped" else 2)}
    if steps is not None:
        metrics["steps"] = steps
    run = EvalResult(status, score, 0, 0.1, metrics, step=None if status == "ok" else steps)
    store.record(act.text, act.fingerprint, CandidateResult.from_runs([run]), task="mnist1d", trial=trial,
                 seeds=[0])
    return act.fingerprint


def test_it_counts_stopped_steps_and_the_tables_top_that_finished(tmp_path):
    run = tmp_path / "run"
    with SqliteStore(run) as store:
        store.init_run({"spec": {"space": "quick"}})
        fps = [_row(store, "x * sigmoid(x)", 1, "ok", 0.80, 900),
               _row(store, "x + sin(x)", 2, "ok", 0.70, 900),
               _row(store, "x * tanh(x)", 3, "stopped", 0.30, 300),  # a third of the steps
               _row(store, "x + cos(x)", 4, "stopped", 0.20, 100),  # a ninth
               _row(store, "exp(x) * x", 5, "diverged", 0.0, None)]  # 2 of 9 checkpoints
    table = tmp_path / "table.csv"
    with open(table, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["expression", "params", "fingerprint", "status", "score", "wall_s"])
        for fp, status, score in zip(fps, ["ok", "ok", "ok", "ok", "diverged"], [0.80, 0.71, 0.75, 0.2, 0.0],
                                     strict=True):
            w.writerow(["e", "{}", fp, status, score, 1.0])
        w.writerow(["far", "{}", "f" * 16, "ok", 0.1, 1.0])  # in the space, not trained by the run
    out = bench_halving_run.measure(run, table, 0.5)
    assert out["trained"] == 5 and out["status"] == {"diverged": 1, "ok": 2, "stopped": 2}
    assert out["seed_equivalents"] == pytest.approx(2 + 1 / 3 + 1 / 9 + 2 / 9, abs=0.01)
    assert out["fraction_of_full"] == pytest.approx(out["seed_equivalents"] / (4 + 2 / 9), abs=0.01)
    top = out["table_top"]  # the table's top half of its 5 ok rows: 0.80, 0.75, 0.71
    assert top["of_space"] == 3 and top["among_trained"] == 3 and top["finished"] == 2
    assert top["stopped"] == ["x * tanh(x)"]
    assert out["finisher_score_max_abs_diff_vs_table"] == pytest.approx(0.01)
    # the active wall time: the gaps between stored rows, a gap over --gap counted as a stop instead
    every_gap_a_stop = bench_halving_run.measure(run, table, 0.5, gap_s=-1.0)
    assert every_gap_a_stop["active_wall_s"] == 0 and every_gap_a_stop["stops_over_gap"] == 4
    assert out["stops_over_gap"] == 0 and 0 <= out["active_wall_s"] < 60
    # trial seconds: each stored row's wall_s (0.1 s a seed here) against the table's rows (1 s each)
    assert out["trial_seconds"]["candidates"] == 5
    assert out["trial_seconds"]["ratio"] == pytest.approx(out["trial_seconds"]["run"] / 5.0)
    assert out["trial_seconds"]["run"] == pytest.approx(0.5, abs=0.01)
