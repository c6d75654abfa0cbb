"""Full-control user tasks: outcomes (score, metrics, error with traceback, diverged, timeout),
the decorator's settings, signature checks, probes."""

from __future__ import annotations

import re
import time

import pytest
import torch
import usertaskhelpers as helpers
from torch import nn

import actsearch
from actsearch.evaluators import evaluate
from actsearch.evaluators.protocol import TaskProbe
from actsearch.evaluators.result import DIVERGED, ERROR, OK, TIMEOUT
from actsearch.evaluators.task import TaskError
from actsearch.evaluators.user import UserTask


def test_score_dict_metrics_and_progress_across_seeds():
    reports = []
    res = evaluate("x * sigmoid(x)", helpers.loop_task, seeds=(0, 1), report=lambda k, s: reports.append(k))
    assert res.status == OK and 0.5 < res.score <= 1.0
    assert all(0.0 <= r.metrics["test_acc"] <= 1.0 for r in res.runs)
    assert "test_acc" in res.metrics  # folded across seeds like a built-in task's
    assert reports == [1, 2, 3, 4, 5, 6]  # seed i's report k is iteration i * checkpoints + k


def test_act_is_a_fresh_module_each_call():
    made = []

    def fn(act, seed, report):
        made.extend([act(), act()])
        return 1.0

    assert UserTask(fn).evaluate_seed("x * sigmoid(beta * x)", 0).status == OK
    assert len(made) == 2 and made[0] is not made[1]
    assert made[0].beta is not made[1].beta  # learnable constants per instance


def test_plain_function_number_and_name():
    task = UserTask(helpers.plain)
    assert task.name == "plain" and task.evaluate_seed("relu", 2).score == pytest.approx(0.52)


def test_exception_is_error_with_message_and_traceback():
    res = UserTask(helpers.raises).evaluate_seed("relu", 0)
    assert res.status == ERROR and res.error == "ValueError: my training broke"
    assert "Traceback" in res.metrics["traceback"] and "usertaskhelpers.py" in res.metrics["traceback"]


@pytest.mark.parametrize(("fn", "status", "words"), [
    (helpers.nan_score, DIVERGED, "score is nan"),
    (helpers.text_score, ERROR, "returned a str"),
    (lambda act, seed, report: {"acc": 1.0}, ERROR, "without 'score'"),
    (lambda act, seed, report: {"score": True}, ERROR, "returned a bool"),
    (lambda act, seed, report: torch.tensor(float("inf")), DIVERGED, "score is inf"),
])
def test_bad_scores_are_statuses(fn, status, words):
    res = UserTask(fn, "t").evaluate_seed("relu", 0)
    assert res.status == status and words in res.error


def test_time_limit_through_report_stops_the_loop_cleanly():
    start = time.perf_counter()
    res = UserTask(helpers.reports_forever).evaluate_seed("relu", 0, time_limit_s=0.3)
    assert res.status == TIMEOUT and res.step is not None and res.step > 1
    assert time.perf_counter() - start < 2.0


def test_time_limit_without_report_abandons_the_thread():
    start = time.perf_counter()
    res = UserTask(helpers.sleeps).evaluate_seed("relu", 0, time_limit_s=0.3)
    waited = time.perf_counter() - start
    assert res.status == TIMEOUT and "did not return" in res.error
    assert waited < 1.5  # the 3-second sleep is not waited for


def test_callers_report_exception_passes_through():
    class Stop(Exception):
        pass

    def stop(k, s):
        raise Stop("enough")

    with pytest.raises(Stop):
        helpers.loop_task.evaluate_seed("relu", 0, report=stop)
    with pytest.raises(Stop):  # also from the worker thread used with a time limit
        helpers.loop_task.evaluate_seed("relu", 0, report=stop, time_limit_s=30)


def test_decorator_settings_are_typed_from_defaults():
    task = helpers.loop_task
    assert task.name == "blobs-loop" and (task.config.steps, task.config.lr) == (30, 0.05)
    assert task.with_settings(lr="0.5").config.lr == 0.5 and task.config.lr == 0.05
    with pytest.raises(TaskError, match="expects float"):
        task.with_settings(lr="fast")
    with pytest.raises(TaskError, match="must default to"):
        actsearch.task("t", sizes=[1, 2])(helpers.plain)
    with pytest.raises(TaskError, match="without ':'"):
        actsearch.task("a:b")(helpers.plain)


@pytest.mark.parametrize(("fn", "words"), [
    (helpers.wrong_signature, "takes (act, seed, report[, settings])"),
    (helpers.returns_text, "annotated to return str"),
    (lambda a, b, c, d, e: 1.0, "takes (act, seed, report[, settings])"),
])
def test_wrong_signature_refused_up_front(fn, words):
    with pytest.raises(TaskError, match=re.escape(words)) as info:
        UserTask(fn, "t")
    assert "\n" not in str(info.value)


def test_probe_from_a_user_task():
    x, y = helpers.blobs()
    task = actsearch.task("probed", probe=lambda: (helpers.mlp, x, y))(helpers.plain)
    probe = task.probe()
    assert isinstance(probe, TaskProbe) and probe.inputs.shape == (240, 6)
    assert task.build_model(nn.ReLU)(probe.inputs[:3]).shape == (3, 3)
    bad = actsearch.task("bad-probe", probe=lambda: "nope")(helpers.plain)
    with pytest.raises(TaskError, match="probe"):
        bad.probe()


def test_show_prints_the_stored_traceback_of_a_user_task(tmp_path):
    from typer.testing import CliRunner

    from actsearch.cli import app
    from actsearch.evaluators.result import CandidateResult
    from actsearch.results.store import SqliteStore

    res = CandidateResult.from_runs([UserTask(helpers.raises).evaluate_seed("relu", 0)])
    act = actsearch.parse("x * sigmoid(x)")
    with SqliteStore(tmp_path / "run") as store:
        store.init_run({"command": "test", "task": "t.py:raises", "searcher": "random", "seed": 0,
                        "space": "quick", "budget": 1})
        store.record(act.text, act.fingerprint, res, task="t.py:raises", seeds=[0])
    out = CliRunner().invoke(app, ["show", str(tmp_path / "run"), f"id:{1}"])
    assert out.exit_code == 0, out.output
    assert "ValueError: my training broke" in out.stdout
    assert "raise ValueError" in out.stdout  # the user's own line, from the stored traceback
