"""The registry of built-in tasks: ``@register_task`` beside each builder, and the lookups over it.

A built-in task is one module of :mod:`actsearch.evaluators.builtin` that declares its settings
dataclass and registers its builder::

    @register_task("digits", description="scikit-learn's 8x8 digits on a small MLP: a smoke test",
                   config=DigitsConfig, limits={"val_size": EXAMPLES, "width": WIDTH, "depth": DEPTH},
                   tiny={"steps": 60}, input_shape=(64,), examples=1797)
    def digits(name: str, config: DigitsConfig) -> Task:
        from actsearch.evaluators.classification import ClassificationTask   # torch: only when built
        ...

Name, one-line description, settings dataclass, the ranges of its own numeric settings
(``limits``: field name → :class:`actsearch.limits.Range`, with a comment on any bound that needs
one; the training protocol's shared settings — steps, batch_size, lr, ... — have theirs in
:data:`actsearch.limits.TRAINING_SETTINGS` and are not declared again), rules between settings, a
smoke-sized test budget and the cost of a seed for pipeline budgets live in that one call; the
catalog, help texts, ``actsearch tasks``, the settings checks and the tests read them from here. A
range for a field the config lacks, or a shared setting's range declared differently, is refused
at registration. The module stays light (no torch): builders import what they need when a task is
built, so ``actsearch --help`` lists the tasks without importing torch. A package adds its own task
with the same decorator (or an entry point of ``actsearch.tasks``).
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from actsearch.evaluators.errors import TaskError
from actsearch.limits import TRAINING_SETTINGS, Range

BUILTIN_PACKAGE = "actsearch.evaluators.builtin"  # importing it registers every built-in task, in order


@dataclass(frozen=True)
class TaskEntry:
    """One registered task: everything about it that is not its training code."""

    name: str  # how the CLI and get_task name it
    description: str  # one line for help texts and ``actsearch tasks``
    config: type  # its settings dataclass (defaults = the task's budget)
    build: Callable[[str, Any], Any]  # build(name, config) -> Task (imports torch when called)
    tiny: Mapping[str, Any] = field(default_factory=dict)  # settings of a smoke-sized test training
    check: Callable[[str, Any], None] | None = None  # rules between settings; raises TaskError
    cost_a_seed: float = 1.0  # a seed's cost relative to one mnist1d seed (pipeline wall budgets)
    input_shape: tuple[int, ...] | None = None  # one example's input (memory estimate); None: not a network
    examples: int | Callable[[Any], int] = 0  # examples the data holds (memory estimate), or a function of the config
    limits: Mapping[str, Range] = field(default_factory=dict)  # ranges of its own settings (not the shared ones)

    def defaults(self) -> Any:
        """The default settings."""
        return self.config()

    def ranges(self) -> Mapping[str, Range]:
        """The range of each of its settings that has one: the shared training settings' and its own."""
        return MappingProxyType({**TRAINING_SETTINGS, **self.limits})

    def data_examples(self, config: Any) -> int:
        """How many examples the task's data holds with ``config``."""
        return int(self.examples(config) if callable(self.examples) else self.examples)


_ENTRIES: dict[str, TaskEntry] = {}


def register_task(name: str, *, description: str, config: type, tiny: Mapping[str, Any] | None = None,
                  check: Callable[[str, Any], None] | None = None, cost_a_seed: float = 1.0,
                  input_shape: tuple[int, ...] | None = None,
                  examples: int | Callable[[Any], int] = 0,
                  limits: Mapping[str, Range] | None = None) -> Callable[[Callable], Callable]:
    """Decorator: register ``build(name, config) -> Task`` as the built-in task ``name``; ``limits``
    gives the range of each of its own numeric settings (see the module docstring)."""
    if not isinstance(name, str) or not name.strip() or ":" in name or "," in name or name != name.strip():
        raise TaskError(f"a task name must be non-empty text without ':' or ',', got {name!r}")
    if not dataclasses.is_dataclass(config) or not isinstance(config, type):
        raise TaskError(f"task {name}: config must be a dataclass type, got {config!r}")
    if not description or "\n" in description:
        raise TaskError(f"task {name}: description must be one line of text")
    own = _own_limits(name, config, limits or {})

    def wrap(build: Callable) -> Callable:
        if name in _ENTRIES and _ENTRIES[name].build is not build:
            raise TaskError(f"task {name!r} is registered twice")
        _ENTRIES[name] = TaskEntry(name, description, config, build, MappingProxyType(dict(tiny or {})), check,
                                   float(cost_a_seed), input_shape, examples, own)
        return build

    return wrap


def _own_limits(name: str, config: type, limits: Mapping[str, Range]) -> Mapping[str, Range]:
    """``limits`` checked against ``config``: each names one of its fields, is a :class:`Range`, and
    does not change a shared training setting's range."""
    fields = {f.name for f in dataclasses.fields(config)}
    for key, rule in limits.items():
        if key not in fields:
            raise TaskError(f"task {name}: limits gives a range for {key!r}, which {config.__name__} does not have")
        if not isinstance(rule, Range):
            raise TaskError(f"task {name}: limits[{key!r}] must be an actsearch.limits.Range, got {rule!r}")
        shared = TRAINING_SETTINGS.get(key)
        if shared is not None and rule != shared:
            raise TaskError(f"task {name}: limits declares {key} {rule.text()}, but {key} is a shared training "
                            f"setting ({shared.text()}, actsearch.limits.TRAINING_SETTINGS)")
    return MappingProxyType(dict(limits))


def _loaded() -> dict[str, TaskEntry]:
    importlib.import_module(BUILTIN_PACKAGE)
    return _ENTRIES


def entries() -> tuple[TaskEntry, ...]:
    """Every registered task, in the order registered."""
    return tuple(_loaded().values())


def names() -> tuple[str, ...]:
    """The names of the registered tasks, in order."""
    return tuple(_loaded())


def find(name: str) -> TaskEntry | None:
    """The entry of ``name``, or None when no built-in task has that name."""
    return _loaded().get(name) if isinstance(name, str) else None


def known_limits() -> Mapping[str, Range]:
    """The range of every setting name a built-in task knows: the shared training settings', then
    each task's own (the first task registered with a name gives its range). Tasks that declare no
    ranges (a user's function, a plugin's object) are checked against it, by setting name."""
    merged = dict(TRAINING_SETTINGS)
    for task in _loaded().values():
        for key, rule in task.limits.items():
            merged.setdefault(key, rule)
    return MappingProxyType(merged)


def entry(name: str) -> TaskEntry:
    """The entry of ``name``; an unknown name is a one-line error listing the registered ones."""
    found = find(name)
    if found is None:
        raise TaskError(f"unknown task {name!r}; expected one of {', '.join(names())}")
    return found
