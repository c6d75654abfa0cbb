"""``ModelTask``: the user's network and data in actsearch's loop, with every built-in feature."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

import actsearch
from actsearch.evaluators import evaluate
from actsearch.evaluators.result import DIVERGED, OK
from actsearch.evaluators.task import TaskError
from tests.helpers import usertasks as helpers
from tests.helpers.evaluators import TripleExp

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier


def test_trains_with_pd_dnr_and_checkpoints():
    reports = []
    res = evaluate("x * sigmoid(beta * x)", helpers.model_task(), seeds=(0, 1), report=lambda k, s: reports.append(k))
    assert res.status == OK and res.score > 0.6, res.error
    assert 0.0 <= res.metrics["pd"] <= 1.0 and 0.0 <= res.metrics["dnr"] <= 1.0
    run = res.runs[0]
    assert run.metrics["steps"] == 40 and len(run.metrics["checkpoints"]) == 4 and 0 <= run.metrics["test_acc"] <= 1
    assert reports == list(range(1, 9))  # 4 checkpoints per seed, counted across seeds


def test_relu_dead_units_are_counted():
    res = evaluate("max(x, 0)", helpers.model_task(steps=5), seeds=(0,))
    assert res.status == OK and 0.0 <= res.runs[0].metrics["dnr"] <= 1.0
    res = evaluate("0 * x + 0.5 * x", helpers.model_task(steps=5), seeds=(0,))  # linear: nothing dead
    assert res.runs[0].metrics["dnr"] == 0.0


def test_datasets_and_no_test_split():
    x, y = helpers.blobs()
    task = actsearch.ModelTask(model=helpers.mlp, train=TensorDataset(x[:160], y[:160]),
                               val=TensorDataset(x[160:], y[160:]), steps=10)
    res = task.evaluate_seed("relu", 0)
    assert res.status == OK and res.metrics["test_acc"] == res.metrics["val_acc"]  # val stands in for test


def test_same_seed_same_result_and_seeds_differ():
    task = helpers.model_task(steps=15)
    a, b, c = (task.evaluate_seed("x * sigmoid(x)", s).metrics["val_loss"] for s in (0, 0, 1))
    assert a == b and a != c


def test_diverged_with_its_step():
    res = helpers.model_task(steps=30, lr=5.0).evaluate_seed(TripleExp, 0)
    assert res.status == DIVERGED and res.step is not None and "step" in res.error


def test_custom_loss_and_metric_regression():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(200, 3, generator=gen)
    y = (x ** 2).sum(1, keepdim=True)

    def neg_mse(out, target):
        return -float(((out - target) ** 2).mean())

    task = actsearch.ModelTask(model=lambda act: nn.Sequential(nn.Linear(3, 32), act(), nn.Linear(32, 1)),
                               train=(x[:150], y[:150]), val=(x[150:], y[150:]), steps=150, lr=1e-2,
                               loss=nn.functional.mse_loss, metric=neg_mse)
    relu, linear = (task.evaluate_seed(a, 0) for a in ("relu", "0.5 * x + 0 * x"))
    assert relu.status == OK and linear.status == OK
    assert relu.score > linear.score  # a linear network cannot fit x²: a lower (more negative) score
    assert relu.score == pytest.approx(-relu.metrics["val_loss"], rel=1e-5)


def test_init_option_reinitialises_hidden_layers():
    task = helpers.model_task(init="he-relu")
    net = task.probe().build(nn.ReLU)
    first, last = net[0], net[-1]
    assert float(first.bias.detach().abs().sum()) == 0.0  # He-normal with zero bias
    assert float(last.bias.detach().abs().sum()) > 0.0  # the output layer keeps its own init
    default = helpers.model_task().probe().build(nn.ReLU)
    assert float(default[0].bias.detach().abs().sum()) > 0.0


def test_device_setting_and_cuda_refused_without_gpu():
    assert helpers.model_task(device="cpu").evaluate_seed("relu", 0).status == OK
    if not torch.cuda.is_available():
        with pytest.raises(TaskError, match="no GPU"):  # up front, through the resolver's check
            helpers.model_task(device="cuda").check()
        with pytest.raises(TaskError, match="no GPU"):  # a user error, not a failed candidate
            helpers.model_task(device="cuda").run_seed("relu", 0)


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"train": [1, 2, 3]}, "pair or a torch Dataset"),
    ({"train": (torch.zeros(5, 6), torch.zeros(4))}, "5 inputs and 4 labels"),
    ({"model": 3}, "model must be a callable"),
    ({"steps": 0}, "steps must be >= 1"),
    ({"init": "xavier"}, "unknown init"),
])
def test_bad_construction_is_one_line(kwargs, words):
    x, y = helpers.blobs()
    args = {"model": helpers.mlp, "train": (x, y), "val": (x, y), **kwargs}
    with pytest.raises(TaskError, match=words) as info:
        actsearch.ModelTask(**args)
    assert "\n" not in str(info.value)


def test_check_catches_a_model_that_does_not_fit_the_data():
    x, y = helpers.blobs()
    task = actsearch.ModelTask(model=lambda act: nn.Sequential(nn.Linear(7, 3), act()), train=(x, y), val=(x, y))
    with pytest.raises(TaskError, match="fails on two training examples"):
        task.check()
    not_module = actsearch.ModelTask(model=lambda act: "net", train=(x, y), val=(x, y))
    with pytest.raises(TaskError, match="not an nn.Module"):
        not_module.check()
