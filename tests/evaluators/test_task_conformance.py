"""Conformance: every task (each registered one, the table replay, a ModelTask, a full-control
function) offers the same public protocol, on tiny real budgets."""

from __future__ import annotations

import csv
import dataclasses

import pytest
import torch
from torch import nn

from actsearch.evaluators import TASKS, evaluate, get_task
from actsearch.evaluators.protocol import TaskProbe, TaskProtocol, is_task
from actsearch.evaluators.result import INVALID, OK, STATUSES, CandidateResult, EvalResult
from actsearch.evaluators.task import as_task_object, probe_of
from tests.helpers import usertasks as helpers
from tests.helpers.evaluators import TINY

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier


@pytest.fixture(scope="module")
def table_csv(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("table") / "scores.csv"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["expression", "status", "score"])
        writer.writeheader()
        writer.writerow({"expression": "x * sigmoid(x)", "status": "ok", "score": "0.91"})
        writer.writerow({"expression": "max(x, 0)", "status": "ok", "score": "0.88"})
        writer.writerow({"expression": "exp(exp(x))", "status": "diverged", "score": ""})
    return str(path)


def _make(kind: str, table_csv: str, monkeypatch: pytest.MonkeyPatch, cifar_binary) -> object:
    if kind == "table":
        return get_task(f"table:{table_csv}")
    if kind == "model-task":
        return helpers.model_task()
    if kind == "user-fn":
        return helpers.loop_task
    if kind == "cifar10":
        monkeypatch.setenv("ACTSEARCH_DATA", str(cifar_binary))
    return get_task(kind, **TINY[kind])


KINDS = [*TASKS, "table", "model-task", "user-fn"]


def test_every_registered_task_is_covered():
    assert set(TASKS) <= set(TINY), "a new registered task needs a tiny budget in tests/helpers/evaluators.py TINY"


@pytest.mark.parametrize("kind", KINDS)
def test_task_conforms(kind, table_csv, monkeypatch, cifar_binary):
    task = _make(kind, table_csv, monkeypatch, cifar_binary)
    assert is_task(task) and isinstance(task, TaskProtocol)
    assert isinstance(task.name, str) and task.name
    assert dataclasses.is_dataclass(task.config)

    # one seed through the contract, a candidate that is in the table
    reports: list[tuple[int, float]] = []
    result = task.evaluate_seed("x * sigmoid(x)", 3, report=lambda k, s: reports.append((k, s)), threads=1)
    assert isinstance(result, EvalResult) and result.status in STATUSES and result.seed == 3
    assert result.status == OK, result.error
    assert isinstance(result.score, float) and 0.0 <= result.score <= 1.0
    assert reports and all(isinstance(k, int) and k >= 1 for k, _ in reports)
    assert [k for k, _ in reports] == sorted(k for k, _ in reports)

    pair = task.run_seed("x * sigmoid(x)", 0)
    assert isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], EvalResult)
    assert pair[1] is None or isinstance(pair[1], torch.Tensor)

    # a trivial candidate is invalid, never a crash; several seeds fold into a CandidateResult
    assert evaluate("0 * x + 1", task, seeds=(0,)).status == INVALID
    folded = evaluate("x * sigmoid(x)", task, seeds=(0, 1))
    assert isinstance(folded, CandidateResult) and [r.seed for r in folded.runs] == [0, 1]

    # probe: None (Gaussian fallback) or the task's own network and data, which run
    probe = probe_of(task)
    if kind in ("xor", "teacher", "ood-regression", "table", "user-fn"):  # toy/regression tasks; user-fn: no probe=
        assert probe is None
        assert as_task_object(task).probe() is None  # the base's default: the Gaussian fallback
    else:
        assert isinstance(probe, TaskProbe) and len(probe.inputs) == len(probe.targets) > 0
        with torch.no_grad():
            out = probe.build(nn.ReLU)(probe.inputs[:4])
        assert out.shape[0] == 4 and torch.isfinite(out).all()
        assert probe.lr > 0 and probe.batch_size >= 1


@pytest.mark.parametrize("kind", ["digits", "model-task", "user-fn"])
def test_settings_override_typed_and_checked(kind, table_csv, monkeypatch, cifar_binary):
    from actsearch.evaluators.task import TaskError

    task = _make(kind, table_csv, monkeypatch, cifar_binary)
    other = task.with_settings(steps="7") if hasattr(task, "with_settings") else get_task(kind, steps="7")
    assert other.config.steps == 7 and task.config.steps != 7  # a copy; the original is unchanged
    change = (lambda **kw: task.with_settings(**kw)) if hasattr(task, "with_settings") else \
        (lambda **kw: get_task(kind, **kw))
    for bad, match in (({"steps": 0}, "steps must be >= 1"), ({"lr": "-1"}, "lr must be > 0"),
                       ({"steps": "many"}, "expects int"), ({"stepz": 3}, "no setting 'stepz'")):
        with pytest.raises(TaskError, match=match) as info:
            change(**bad)
        assert "\n" not in str(info.value)
