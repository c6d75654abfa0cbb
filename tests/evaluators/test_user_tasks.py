"""Full-control user tasks: outcomes (score, metrics, error with traceback, diverged, timeout),
the decorator's settings, signature checks, probes."""

from __future__ import annotations

import re
import time

import pytest
import torch
from torch import nn

import actsearch
from actsearch.evaluators import evaluate
from actsearch.evaluators.protocol import TaskProbe
from actsearch.evaluators.result import DIVERGED, ERROR, OK, TIMEOUT
from actsearch.evaluators.task import TaskError
from actsearch.evaluators.user import UserTask
from tests.helpers import usertasks as helpers


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
    assert "Traceback" in res.metrics["traceback"] and "usertasks.py" in res.metrics["traceback"]


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
    assert probe.build(nn.ReLU)(probe.inputs[:3]).shape == (3, 3)
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


# W3 / H6: task code that exits, interrupts itself or never finishes importing.

def _task_file(tmp_path, name: str, head: str) -> str:
    path = tmp_path / f"{name}.py"
    path.write_text(f"{head}\n\ndef fit(act, seed, report):\n    return 0.5\n")
    return f"{path}:fit"


@pytest.mark.parametrize(("head", "words"), [
    ("import sys\nsys.exit(7)", "called sys.exit(7) at import"),
    ("import sys\nsys.exit()", "called sys.exit() at import"),
    ("raise SystemExit('bye')", "called sys.exit('bye') at import"),
    ("raise KeyboardInterrupt", "raised KeyboardInterrupt at import"),
])
def test_a_task_file_that_exits_at_import_is_one_line(tmp_path, head, words):
    """W3: SystemExit / KeyboardInterrupt at import are a TaskError naming the file, not an exit."""
    from actsearch.evaluators import get_task

    ref = _task_file(tmp_path, f"exits_{abs(hash(head))}", head)
    with pytest.raises(TaskError) as caught:
        get_task(ref)
    assert words in str(caught.value) and str(tmp_path) in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("head", [
    "import time\ntry:\n    time.sleep(1000)\nexcept Exception:\n    pass",
    "while True:\n    try:\n        pass\n    except Exception:\n        pass",
])
def test_a_task_file_that_hangs_at_import_meets_the_deadline(tmp_path, head):
    """H6: an import that sleeps or spins (and swallows every Exception) ends at the time limit."""
    from actsearch.evaluators import get_task
    from actsearch.evaluators.guard import import_time_limit

    ref = _task_file(tmp_path, f"hangs_{abs(hash(head))}", head)
    start = time.perf_counter()
    with import_time_limit(0.5), pytest.raises(TaskError) as caught:
        get_task(ref)
    assert time.perf_counter() - start < 5
    assert "did not finish importing within 0.5 s" in str(caught.value)


def test_the_import_deadline_has_a_default_and_restores_the_alarm(tmp_path, monkeypatch):
    """H6: without a time limit the documented default applies; an outer alarm handler and timer
    (e.g. a test runner's) are restored afterwards, and a good import leaves no alarm behind."""
    import signal

    from actsearch.evaluators import get_task, guard

    monkeypatch.setattr(guard, "IMPORT_TIME_LIMIT_S", 0.5)
    ref = _task_file(tmp_path, "sleeps_default", "import time\ntime.sleep(1000)")
    fired = []

    def handler(*args):
        fired.append(1)

    old = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 30)
        with pytest.raises(TaskError, match="within 0.5 s"):
            get_task(ref)
        assert signal.getsignal(signal.SIGALRM) is handler  # the outer handler is back
        assert 25 < signal.getitimer(signal.ITIMER_REAL)[0] <= 30  # the outer timer runs on
        assert get_task(_task_file(tmp_path, "fine", "X = 1")).name == "fit"
        assert 25 < signal.getitimer(signal.ITIMER_REAL)[0] <= 30 and not fired
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize("code", [0, 3])
@pytest.mark.parametrize("limit", [None, 30.0])
def test_sys_exit_while_training_is_a_failed_seed(code, limit):
    """W3: a seed whose code calls sys.exit is an error saying so; the other seeds still run."""
    import sys

    def fn(act, seed, report):
        if seed == 0:
            sys.exit(code)
        return 0.5

    res = evaluate("relu", UserTask(fn, "exits"), seeds=(0, 1), time_limit_s=limit)
    assert [r.status for r in res.runs] == [ERROR, OK]
    assert res.runs[0].error == f"the task called sys.exit({code})"
    assert "SystemExit" in res.runs[0].metrics["traceback"]


def test_keyboard_interrupt_from_task_code_off_the_main_thread_is_a_failed_seed():
    """W3: in the deadline's worker thread (as in a Ray trainable's) a KeyboardInterrupt can only be
    the task's own; on the main thread it still stops the caller (it may be the user's Ctrl-C)."""
    def fn(act, seed, report):
        raise KeyboardInterrupt

    res = UserTask(fn, "kbd").evaluate_seed("relu", 0, time_limit_s=30)
    assert res.status == ERROR and res.error == "the task raised KeyboardInterrupt"
    with pytest.raises(KeyboardInterrupt):
        UserTask(fn, "kbd").evaluate_seed("relu", 0)


def test_sys_exit_in_a_model_task_is_a_failed_seed():
    """W3: user code inside a ModelTask's network (not a plain function) exits: the seed fails."""
    import sys

    class Exits(nn.Linear):
        def forward(self, x):
            sys.exit(5)

    x, y = helpers.blobs()
    task = actsearch.ModelTask(model=lambda act: Exits(6, 3), train=(x[:160], y[:160]), val=(x[160:], y[160:]),
                               name="exits", steps=2)
    res = task.evaluate_seed("relu", 0)
    assert res.status == ERROR and res.error == "the task called sys.exit(5)"
