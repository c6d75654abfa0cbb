"""Evaluators: score a candidate activation by training real child networks on real data.

Public API (imported lazily, so ``actsearch.evaluators.result`` stays light)::

    from actsearch.evaluators import evaluate, get_task, TASKS
    res = evaluate("x * sigmoid(x)", "mnist1d", seeds=(0, 1))   # CandidateResult
    task = get_task("mnist1d", steps=500); task.evaluate_seed(act, seed=0)  # EvalResult
    evaluate_pack(["swish", "relu"], "mnist1d", seeds=range(5))  # one CandidateResult each

Modules: ``protocol`` (the public Task protocol and ``TaskProbe``), ``lookup`` (``get_task``: one
name → one Task), ``tasks`` (configs and
registry), ``task`` (Task classes), ``settings`` (``NAME=VALUE`` parsing and typed, range-checked ``--set`` overrides),
``model_task`` (``ModelTask``: the user's network in actsearch's loop), ``user`` (full-control
``fn(act, seed, report)`` tasks and ``@task``), ``resolve`` (FILE.py:NAME, module:NAME, entry
points; source hashes), ``swap`` (``swap_activations``) and ``swapcheck`` (what its
forward reading finds), ``data`` / ``cifar`` (data sets),
``models`` (child networks), ``archs`` (the transfer networks: 1-D CNN, layer-norm ResNet, ViT),
``train`` (budgeted loop), ``ensemble`` and ``batched`` (seeds and candidates trained as one
stacked network), ``toy`` (XOR, teacher-student), ``metrics`` (dead-neuron rate, prediction
difference), ``candidate``, ``scoring`` (``evaluate``, ``evaluate_pack``), ``table``
(``table:FILE`` replays), ``panel`` (``panel:A,B``: ReLU-normalised scores on several tasks).
"""

from __future__ import annotations

import importlib
from typing import Any

from actsearch.evaluators.result import CandidateResult, EvalResult

_LAZY = {
    "evaluate": "actsearch.evaluators.scoring",
    "evaluate_pack": "actsearch.evaluators.scoring",
    "get_task": "actsearch.evaluators.lookup",
    "TASKS": "actsearch.evaluators.tasks",
    "TaskError": "actsearch.evaluators.task",
    "Task": "actsearch.evaluators.task",
    "as_candidate": "actsearch.evaluators.candidate",
    "TaskProtocol": "actsearch.evaluators.protocol",
    "TaskProbe": "actsearch.evaluators.protocol",
    "ModelTask": "actsearch.evaluators.model_task",
    "UserTask": "actsearch.evaluators.user",
    "swap_activations": "actsearch.evaluators.swap",
}

__all__ = ["CandidateResult", "EvalResult", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'actsearch.evaluators' has no attribute {name!r}")
