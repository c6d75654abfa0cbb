"""Built-in tasks, built: a registered name plus settings → a checked :class:`Task`, and what one
training of it needs in memory.

The tasks themselves (settings dataclass, data, child network, rules between settings) are
declared in :mod:`actsearch.evaluators.builtin` with ``@register_task``
(:mod:`actsearch.evaluators.registry`). ``built_in(name, **overrides)`` replaces fields (the CLI's
``--steps``, ``--init``, ``--head``, ``--set``), checks them and builds the task. A task's
``evaluate_seed(candidate, seed)`` returns one :class:`EvalResult` and never raises for a failing
candidate: divergence, exceptions, timeouts and trivial functions become statuses.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

from torch import nn

from actsearch.evaluators import budget, networks, registry, regression
from actsearch.evaluators.builtin.toys import OodRegressionConfig, TeacherConfig
from actsearch.evaluators.classification import ClassificationTask
from actsearch.evaluators.registry import TaskEntry
from actsearch.evaluators.settings import apply_overrides
from actsearch.evaluators.task import Task, check_init

TASKS: tuple[str, ...] = registry.names()  # the registered names, in order
_NEEDS: dict[str, budget.Needs] = {}  # estimates by task name and settings (a task is built in every trial)


def built_in(name: str, **overrides: Any) -> Task:
    """The registered task ``name`` with its settings replaced by ``overrides`` (typed and checked).
    Any name, built-in or not, goes through :func:`actsearch.evaluators.lookup.get_task`."""
    entry = registry.entry(name)
    config = apply_overrides(name, entry.config, overrides, limits=entry.ranges())
    _consistent(entry, name, config)
    task = entry.build(name, config)
    task.rules, task.limits = _rules, entry.ranges()
    check_memory(task)
    return task


def _rules(task: Task) -> None:
    """A built-in task's checks of its settings (after ``with_settings``)."""
    _consistent(registry.entry(task.name), task.name, task.config)
    check_memory(task)


def _consistent(entry: TaskEntry, name: str, cfg: Any) -> None:
    """Rules between a task's settings (each setting's own range is in ``entry.ranges()``)."""
    if entry.check is not None:
        entry.check(name, cfg)
    if "init" in {f.name for f in dataclasses.fields(cfg)}:
        check_init(name, cfg.init)


def needs(task: Task) -> budget.Needs:
    """The estimated memory of one training of a built-in ``task`` (:mod:`actsearch.evaluators.budget`)."""
    cfg = task.config
    key = json.dumps([task.name, dataclasses.asdict(cfg)], sort_keys=True, default=str)
    if key not in _NEEDS:
        _NEEDS[key] = _estimate(task)
    return _NEEDS[key]


def _estimate(task: Task) -> budget.Needs:
    cfg = task.config
    entry = registry.entry(task.name)
    if isinstance(task, ClassificationTask) and entry.input_shape is not None:
        shape = entry.input_shape
        params, acts = budget.network(lambda: task.network(nn.ReLU), (cfg.batch_size, *shape))
        return budget.Needs(params, acts, entry.data_examples(cfg) * math.prod(shape))
    if isinstance(cfg, OodRegressionConfig):
        params, acts = budget.network(
            lambda: networks.MLP(1, cfg.width, cfg.depth, len(regression.TARGETS), nn.ReLU, cfg.init), (cfg.batch_size, 1))
        return budget.Needs(params, acts, cfg.train_size + cfg.test_size)
    if isinstance(cfg, TeacherConfig):  # one filter; each input is cut into patches
        return budget.Needs(cfg.patch, 2 * cfg.batch_size * cfg.input_dim, (cfg.train_size + cfg.test_size) * cfg.input_dim)
    return budget.Needs()


def check_memory(task: Task, members: int = 1) -> None:
    """Refuse, in one line, a built-in task whose settings need more memory than this machine can
    give one training of ``members`` stacked networks; the settings changed from the task's
    defaults are named as what drives the estimate."""
    entry = registry.find(task.name)
    if entry is None or not isinstance(task.config, entry.config):  # a user's task, a panel (its members were checked)
        return
    cfg, default = task.config, entry.defaults()
    values = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}
    changed = {k: v for k, v in values.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
               and v != getattr(default, k)}
    budget.check(task.name, needs(task), changed, members)


def default_config(name: str) -> Any:
    """The default config of a registered task."""
    return registry.entry(name).defaults()
