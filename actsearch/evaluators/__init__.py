"""Evaluators: score a candidate activation by training real child networks on real data.

Public API (imported lazily, so ``actsearch.evaluators.result`` stays light)::

    from actsearch.evaluators import evaluate, get_task, TASKS
    res = evaluate("x * sigmoid(x)", "mnist1d", seeds=(0, 1))   # CandidateResult
    task = get_task("mnist1d", steps=500); task.evaluate_seed(act, seed=0)  # EvalResult
    evaluate_pack(["swish", "relu"], "mnist1d", seeds=range(5))  # one CandidateResult each

Modules: ``task`` (the :class:`Task` base: everything the engine asks of a task, with its
defaults; ``ToyTask``; ``classification``: ``ClassificationTask``), ``protocol`` (the public protocol and
``TaskProbe``), ``reference`` (a task reference parsed once: ``TaskRef`` of a ``TaskKind``, its
canonical form), ``registry`` (``@register_task``; light) and ``builtin/`` (one module per family
of built-in tasks, each registering itself), ``catalog`` (names and one-liners for help texts,
derived from the registry), ``tasks`` (a built-in task built and checked; memory estimates),
``lookup`` (``get_task``: one reference → one Task), ``settings`` (``NAME=VALUE`` parsing and
typed, range-checked ``--set`` overrides), ``model_task`` (``ModelTask``: the user's network in
actsearch's loop), ``user`` (full-control ``fn(act, seed, report)`` tasks and ``@task``),
``resolve`` (FILE.py:NAME, module:NAME, entry points; source hashes), ``table`` (``table:FILE``
replays), ``panel`` (``panel:A,B``: ReLU-normalised scores on several tasks, any tasks as
members), ``swap`` (``swap_activations``) and ``swapcheck``, ``data`` / ``cifar`` (data sets),
``networks/`` (child networks), ``training/`` (the one training loop and its engines), ``toy`` and
``regression`` (toy tasks), ``metrics``, ``candidate``, ``scoring`` (``evaluate``,
``evaluate_pack``).
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
    "TaskError": "actsearch.evaluators.errors",
    "Task": "actsearch.evaluators.task",
    "register_task": "actsearch.evaluators.registry",
    "TaskRef": "actsearch.evaluators.reference",
    "TaskKind": "actsearch.evaluators.reference",
    "parse_reference": "actsearch.evaluators.reference",
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
