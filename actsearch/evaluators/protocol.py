"""The public Task protocol: what every task offers, built-in or written by a user.

A task has a ``name``, a ``config`` (its settings dataclass; ``--set NAME=VALUE`` overrides a
field), ``evaluate_seed(candidate, seed, *, report, threads, time_limit_s) -> EvalResult`` and
``run_seed(...) -> (EvalResult, test predictions | None)`` — both return failures as statuses
(``diverged``, ``error``, ``timeout``, ``invalid``) and raise only for user errors — and
optionally ``probe() -> TaskProbe | None``: a network builder and a batch for the pre-screen and
the surrogate's features. A task without a probe gets the task-free Gaussian probe (the
documented fallback; the search records which one it used).

The engine itself asks only :class:`~actsearch.evaluators.task.Task`, the base that declares every
optional ability with its default; built-in tasks, the ``table:`` replay, panels,
:class:`~actsearch.evaluators.model_task.ModelTask` and a user's :func:`~actsearch.evaluators.user.task`
function are ``Task`` subclasses, and any other object offering this protocol is wrapped into one
(:class:`~actsearch.evaluators.task.ProtocolTask`). The conformance suite
``tests/evaluators/test_task_conformance.py`` checks each of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from actsearch.evaluators.result import EvalResult

ActFactory = Callable[[], nn.Module]
Report = Callable[[int, float], None]


@dataclass
class TaskProbe:
    """A task's network and data for the pre-screen and the surrogate's features."""

    build: Callable[[ActFactory], nn.Module]  # the task's network, given an activation factory
    inputs: torch.Tensor  # training inputs (the first rows are the propagation batch)
    targets: torch.Tensor  # their labels (class indices)
    lr: float = 1e-3  # learning rate of the trainability proxy
    batch_size: int = 128  # batch size of the trainability proxy


@runtime_checkable
class TaskProtocol(Protocol):
    """What every task offers (``probe`` is optional and not part of the runtime check)."""

    name: str
    config: Any

    def evaluate_seed(self, candidate: Any, seed: int, *, report: Report | None = None, threads: int = 1,
                      time_limit_s: float | None = None) -> EvalResult: ...

    def run_seed(self, candidate: Any, seed: int, *, report: Report | None = None, threads: int = 1,
                 time_limit_s: float | None = None) -> tuple[EvalResult, torch.Tensor | None]: ...


def is_task(obj: Any) -> bool:
    """True when ``obj`` offers the whole protocol (an instance, not a class)."""
    return not isinstance(obj, type) and all(hasattr(obj, a) for a in ("name", "config", "evaluate_seed", "run_seed")) \
        and callable(obj.evaluate_seed) and callable(obj.run_seed)
