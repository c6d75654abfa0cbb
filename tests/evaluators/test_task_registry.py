"""The task registry (``@register_task``), the one task reference, the Task base's defaults, and
``digits-cnn``: the built-in task added as one module."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from actsearch.evaluators import evaluate, get_task, registry
from actsearch.evaluators.errors import TaskError
from actsearch.evaluators.reference import TaskKind, parse_reference
from actsearch.evaluators.resolve import known_tasks
from actsearch.evaluators.result import OK
from actsearch.evaluators.task import ProtocolTask, Task, as_task_object
from tests.helpers import usertasks as helpers

ROOT = Path(__file__).resolve().parents[2]
HELPERS = Path(helpers.__file__).resolve()
USER = f"{HELPERS}:loop_task"


def test_the_catalog_and_actsearch_tasks_are_derived_from_the_registry():
    from actsearch.evaluators import catalog

    names = registry.names()
    assert tuple(catalog.TASKS) == names and "digits-cnn" in names
    assert [i.name for i in known_tasks()][:len(names)] == list(names)
    for entry in registry.entries():
        assert dataclasses.is_dataclass(entry.config) and entry.description == catalog.TASKS[entry.name]
        assert set(entry.tiny) <= {f.name for f in dataclasses.fields(entry.config)}, entry.name


def test_register_task_refuses_a_second_task_of_the_same_name():
    with pytest.raises(TaskError, match="registered twice"):
        registry.register_task("digits", description="again", config=registry.entry("digits").config)(lambda n, c: None)
    with pytest.raises(TaskError, match="unknown task 'nope'"):
        registry.entry("nope")


@pytest.mark.train
def test_digits_cnn_trains_on_the_digits():
    result = evaluate("relu", "digits-cnn", seeds=(0,), steps=150)
    assert result.status == OK and result.score > 0.7, result.error
    task = get_task("digits-cnn")
    assert task.probe().build(__import__("torch").nn.ReLU)(task.probe().inputs[:3]).shape == (3, 10)


def test_one_typed_reference_with_one_canonical_form(tmp_path):
    ref = parse_reference(f"panel:digits,{os.path.relpath(HELPERS)}:loop_task,table:t.csv")
    assert ref.kind is TaskKind.PANEL and [m.kind for m in ref.members] == [TaskKind.BUILTIN, TaskKind.FILE,
                                                                            TaskKind.TABLE]
    assert ref.canonical == f"panel:digits,{USER},table:{Path('t.csv').resolve()}"
    assert ref.user_code() == [ref.members[1].text]
    assert parse_reference("panel:transfer").canonical == "panel:transfer"
    with pytest.raises(TaskError, match="a panel cannot be a member of a panel"):
        parse_reference("panel:digits,panel:transfer")


def test_every_task_is_a_task_base_with_its_defaults():
    class Custom:  # offers the protocol only
        name, config = "custom", helpers.loop_task.config

        def evaluate_seed(self, act, seed, **kw):
            return helpers.loop_task.evaluate_seed(act, seed, **kw)

        def run_seed(self, act, seed, **kw):
            return helpers.loop_task.run_seed(act, seed, **kw)

    task = as_task_object(Custom())
    assert isinstance(task, ProtocolTask) and task.probe() is None and not task.batchable(None)
    assert task.run_pack([], []) is None and task.checkpoints == 3 and task.steps == 30
    with pytest.raises(TaskError, match="takes no settings"):
        task.with_settings(steps=2)
    assert isinstance(get_task("xor"), Task)


def test_a_panel_member_may_be_a_user_task():
    panel = get_task(f"panel:digits,{USER}", steps=20, reference_seeds=2, **{f"{USER}.lr": 0.1})
    assert [m.config.steps for m in panel.members] == [20, 20] and panel.members[1].config.lr == 0.1
    result = evaluate("x * sigmoid(x)", panel, seeds=(0,))
    assert result.status == OK, result.error
    assert {"panel.z/digits", f"panel.z/{USER}"} <= set(result.runs[0].metrics)


@pytest.mark.slow
def test_a_search_on_a_panel_with_a_user_member_through_the_cli_on_ray(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0",
           "ACTSEARCH_CACHE": str(tmp_path / "cache")}
    run = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "actsearch.cli", "search", "--task",
                           f"panel:digits,{os.path.relpath(HELPERS, ROOT)}:loop_task", "--space", "quick",
                           "--searcher", "random", "--budget", "2", "--seeds", "1", "--workers", "1",
                           "--set", "steps=20", "--set", "reference_seeds=2", "--run-dir", str(run)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (run / "run.sqlite").is_file()


# -- a task's own settings limits (@register_task(..., limits=...)) ----------------------------------
@dataclasses.dataclass
class KnotsConfig:
    """A toy task's settings: one of its own, one shared with the training loop."""

    knots: int = 3  # its own setting
    lr: float = 0.1  # a shared one (actsearch.limits.TRAINING_SETTINGS)
    note: str = "x"


def _knots(name, config):
    from actsearch.evaluators.result import EvalResult
    from actsearch.evaluators.task import ToyTask

    return ToyTask(name, config, lambda factory, cfg, seed, report, limit: EvalResult(OK, 1.0, seed, 0.0, {}))


@pytest.fixture
def knots(monkeypatch):
    """The task ``knots`` (knots in 1..9) registered for one test, the registry restored after it."""
    from actsearch.limits import Range

    monkeypatch.setattr(registry, "_ENTRIES", dict(registry._loaded()))
    registry.register_task("knots", description="a toy with a setting of its own", config=KnotsConfig,
                           limits={"knots": Range(1, 9)})(_knots)
    return "knots"


def test_a_task_s_own_limits_refuse_a_value_outside_them(knots):
    from tests.helpers.cli import error_lines, run_cli

    assert get_task(knots, knots=9).config.knots == 9 and registry.entry(knots).ranges()["lr"].ok(0.1)
    for bad in (0, 10, -3):
        with pytest.raises(TaskError, match=rf"^task knots: knots must be >= 1 and <= 9, got {bad}$"):
            get_task(knots, knots=bad)
    with pytest.raises(TaskError, match=r"^task knots: lr must be > 0 and <= 10, got -1.0$"):  # the shared range
        get_task(knots, lr=-1)
    with pytest.raises(TaskError, match="knots must be >= 1 and <= 9, got 12"):  # a built task's --set too
        get_task(knots).with_settings(knots=12)
    code, out, err = run_cli("evaluate", "relu", "--task", knots, "--set", "knots=40")
    assert code == 2 and not out and error_lines(err) == ["error: task knots: knots must be >= 1 and <= 9, got 40"], err


def test_register_task_refuses_bad_limits_in_one_line(knots):
    from actsearch.limits import Range

    for limits, message in (({"nope": Range(1, 2)}, "limits gives a range for 'nope', which KnotsConfig does not have"),
                            ({"lr": Range(0, 1)}, "limits declares lr >= 0 and <= 1, but lr is a shared training setting"),
                            ({"knots": (1, 9)}, "limits['knots'] must be an actsearch.limits.Range")):
        with pytest.raises(TaskError, match=re.escape(f"task bad-knots: {message}")) as err:
            registry.register_task("bad-knots", description="refused", config=KnotsConfig, limits=limits)(_knots)
        assert "\n" not in str(err.value)
    assert registry.find("bad-knots") is None
    registry.register_task("same-lr", description="the shared range, declared again alike", config=KnotsConfig,
                           limits={"lr": Range(0, 10, open_lo=True)})(_knots)


def test_a_user_task_s_settings_have_the_range_of_a_built_in_setting_of_that_name():
    from actsearch.evaluators.user import UserTask

    task = UserTask(lambda act, seed, report: 1.0, "fit", {"kernel": 5, "lr": 0.1, "hidden": 8})
    assert task.with_settings(kernel=39, hidden=10**6).config.kernel == 39  # hidden: no built-in range
    with pytest.raises(TaskError, match="task fit: kernel must be >= 1 and <= 39, got 40"):
        task.with_settings(kernel=40)
    with pytest.raises(TaskError, match="task fit: lr must be > 0"):
        task.with_settings(lr=0)
