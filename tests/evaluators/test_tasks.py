"""Every task end to end on tiny budgets, with real training; the registry and its overrides."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from actsearch.evaluators import TASKS, TaskError, evaluate, get_task
from actsearch.evaluators.result import OK
from tests.helpers.evaluators import TINY

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier


def test_registry_names_and_unknown_task_lists_them():
    assert {"mnist1d", "mnist1d-shallow", "mnist1d-resnet", "digits", "cifar10", "xor", "teacher"} <= set(TASKS)
    with pytest.raises(TaskError) as info:
        get_task("mnist2d")
    msg = str(info.value)
    assert "\n" not in msg and "mnist1d" in msg and "teacher" in msg


def test_the_light_catalog_names_exactly_the_registered_tasks():
    """Help texts and task references read the catalog (no torch); it must match the registry."""
    import subprocess
    import sys

    from actsearch.evaluators import catalog
    from actsearch.evaluators.panel import PANELS

    assert tuple(catalog.TASKS) == TASKS and all(line and "\n" not in line for line in catalog.TASKS.values())
    assert PANELS is catalog.PANELS and all(set(m) <= set(TASKS) for m in PANELS.values())
    probe = "import sys, actsearch.evaluators.catalog; print(sorted(m for m in ('torch', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr


def test_overrides_are_typed_and_checked():
    task = get_task("mnist1d", steps="250", lr="0.01", init="he-gain")
    assert task.config.steps == 250 and task.config.lr == 0.01 and task.config.init == "he-gain"
    assert get_task("mnist1d").config.steps == 3000 and get_task("mnist1d").config.depth == 7
    with pytest.raises(TaskError, match="no setting 'stepz'"):
        get_task("mnist1d", stepz=3)
    with pytest.raises(TaskError, match="expects int"):
        get_task("mnist1d", steps="many")
    with pytest.raises(TaskError, match="unknown init"):
        get_task("mnist1d", init="xavier")
    with pytest.raises(TaskError, match="unknown head"):
        get_task("digits", head="sigmoid")
    with pytest.raises(TaskError, match="steps must be >= 1"):
        get_task("digits", steps=0)
    assert get_task("xor", bias="true").config.bias is True


@pytest.mark.parametrize("name", ["mnist1d", "mnist1d-shallow", "mnist1d-resnet", "digits", "xor", "teacher"])
def test_each_task_runs_end_to_end(name):
    reports = []
    res = evaluate(nn.ReLU, name, seeds=(0, 1), report=lambda it, s: reports.append((it, s)), **TINY[name])
    assert res.status == OK, res.error
    assert 0.0 <= res.score <= 1.0
    assert [r.seed for r in res.runs] == [0, 1]
    for run in res.runs:
        assert run.status == OK and run.wall_s > 0
        assert 0.0 <= run.metrics["dnr"] <= 1.0 and run.metrics["steps_per_s"] > 0
    iterations = [it for it, _ in reports]
    assert iterations == sorted(iterations) and len(set(iterations)) == len(iterations) >= 2
    assert all(0.0 <= s <= 1.0 for _, s in reports)
    if name not in ("xor", "teacher"):  # classification tasks: test accuracy, losses, PD
        run = res.runs[0]
        assert 0.0 <= run.metrics["test_acc"] <= 1.0 and run.metrics["val_loss"] > 0
        assert run.score == run.metrics["val_acc"]
        assert 0.0 <= res.metrics["pd"] <= 1.0


def test_cifar10_runs_end_to_end_on_fixture(cifar_binary, monkeypatch):
    monkeypatch.setenv("ACTSEARCH_DATA", str(cifar_binary))
    res = evaluate(nn.ReLU, "cifar10", seeds=(0,), device="cpu", **TINY["cifar10"])
    assert res.status == OK, res.error
    assert 0.0 <= res.score <= 1.0 and 0.0 <= res.runs[0].metrics["test_acc"] <= 1.0


def test_mnist1d_split_sizes_follow_config():
    from actsearch.evaluators.data import mnist1d

    split = mnist1d(2000, 1200, 400)
    assert split.x_train.shape == (1200, 40) and split.x_val.shape == (400, 40) and split.x_test.shape == (400, 40)
    assert split.y_train.dtype == torch.int64 and set(split.y_train.tolist()) == set(range(10))
    with pytest.raises(TaskError):
        get_task("mnist1d", num_samples=2000, train_size=1800, val_size=400).evaluate_seed(nn.ReLU, 0)


def test_digits_default_budget_separates_relu_from_chance():
    res = evaluate(nn.ReLU, "digits", seeds=(0,), steps=200)
    assert res.status == OK and res.score > 0.85
