"""``actsearch.run_search(task=<object>)``: the task objects ``actsearch.evaluate`` takes (a
``ModelTask``, an ``@actsearch.task`` function), named by the file or module that holds them."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

import actsearch
from actsearch.errors import UserError

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "examples" / "timm_style_task.py")

MODULE = '''
import torch
from torch import nn

import actsearch

gen = torch.Generator().manual_seed(0)
x, y = torch.randn(96, 6, generator=gen), torch.randint(0, 3, (96,), generator=gen)
task = actsearch.ModelTask(model=lambda act: nn.Sequential(nn.Linear(6, 8), act(inplace=True), nn.Linear(8, 3)),
                           train=(x[:64], y[:64]), val=(x[64:], y[64:]), name="tiny-mlp", steps=2, batch_size=16)


@actsearch.task("tiny-loop", steps=2)
def loop(act, seed, report, settings):
    return float(act()(torch.ones(3)).sum().item() > -1e9)
'''


@pytest.fixture
def my_tasks(tmp_path, monkeypatch):
    (tmp_path / "my_tasks.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("my_tasks")
    yield module
    sys.modules.pop("my_tasks", None)


def test_a_model_task_object_from_a_module(my_tasks, tmp_path):
    run = actsearch.run_search(space="quick", searcher="random", task=my_tasks.task, budget=2, references=(),
                               run_dir=tmp_path / "run")
    with run:
        assert run.meta["spec"]["task"] == "my_tasks:task"
        trained = [r for r in run.records(role="search") if r.trained]
        assert len(trained) == 2 and all(r.status == "ok" for r in trained), [r.to_dict() for r in trained]
    assert sys.modules["my_tasks"] is my_tasks  # the module the caller imported, not a second copy


def test_a_task_function_object_in_memory(my_tasks):
    run = actsearch.run_search(space="quick", searcher="random", task=my_tasks.loop, budget=2, references=())
    assert run.meta["spec"]["task"] == "my_tasks:loop"
    assert [r.status for r in run.records(role="search") if r.trained] == ["ok", "ok"]


def test_a_task_object_from_a_task_file_with_settings():
    task = actsearch.get_task(f"{EXAMPLE}:task")  # imported from the file: named by it
    run = actsearch.run_search(space="quick", searcher="random", task=task, budget=2, references=(),
                               settings={"steps": 2})
    assert run.meta["spec"]["task"] == f"{EXAMPLE}:task"
    assert [r.status for r in run.records(role="search") if r.trained] == ["ok", "ok"]


def test_an_object_that_cannot_be_named_is_one_line_before_anything_starts(my_tasks, tmp_path, monkeypatch):
    copy = my_tasks.task.with_settings(steps=3)  # bound to no module's name
    with pytest.raises(UserError, match="not a top-level name of any module") as err:
        actsearch.run_search(space="quick", task=copy, budget=2, run_dir=tmp_path / "run")
    assert "\n" not in str(err.value)
    monkeypatch.setattr(sys.modules["__main__"], "notebook_task", copy, raising=False)
    with pytest.raises(UserError, match="defined in __main__") as err:
        actsearch.run_search(space="quick", task=copy, budget=2, run_dir=tmp_path / "run")
    assert "\n" not in str(err.value) and "my_tasks.py:task" in str(err.value)
    with pytest.raises(UserError, match="not a task"):
        actsearch.run_search(space="quick", task=42, budget=2, run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()
