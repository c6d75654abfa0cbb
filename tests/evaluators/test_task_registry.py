"""The task registry (``@register_task``), the one task reference, the Task base's defaults, and
``digits-cnn``: the built-in task added as one module."""

from __future__ import annotations

import dataclasses
import os
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
