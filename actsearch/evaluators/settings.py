"""Settings, from text to a typed, range-checked dataclass: the one home of ``NAME=VALUE``.

Text: :func:`parse_assignments` is the one parser behind ``--set`` (task settings), ``--option``
(searcher options) and ``--param`` (initial constants), and :func:`parse_value` behind old task
labels ``name[k=v]`` (:mod:`actsearch.results.records`). A value is typed where its text is one —
``true``/``false`` → bool, then int, then float — else kept as text.

Types: every task (built-in, ``ModelTask``, a user's ``@actsearch.task`` function) declares its
settings as a dataclass; ``--set NAME=VALUE`` and ``get_task(name, **overrides)`` go through
:func:`apply_overrides`, which converts a value to the field's type (:func:`coerce`: int, float,
bool, str, optional; text a task got from the parser included), refuses unknown names and checks
each value against the ranges its caller passes (:data:`actsearch.limits.TRAINING_SETTINGS` and a
built-in task's own ``limits``, a panel's, ...). :func:`settings_type` builds the dataclass of a user
task from its declared defaults.

It sits on the lowest floor that needs it (evaluators and results, floor 2; the CLI above) and
stays light: no torch.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Any

from actsearch.errors import UserError
from actsearch.limits import Range, SettingError, check_task_settings


# -- text: NAME=VALUE --------------------------------------------------------------------------------
def parse_value(text: str) -> Any:
    """``"3"`` → 3, ``"0.5"`` → 0.5, ``"true"`` → True, anything else stays text."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _setting_name(name: str, numbers: bool) -> bool:
    """A setting's name: an identifier, or (not for ``--param``) ``MEMBER.NAME``, a panel member's
    own setting (``mnist1d-vit.steps``: a task name, then an identifier; the panel checks the member)."""
    if name.isidentifier():
        return True
    member, dot, setting = name.rpartition(".")
    return (not numbers and bool(dot) and setting.isidentifier() and member[:1].isalnum()
            and member.replace("-", "_").replace(".", "_").isidentifier())


def parse_assignments(items: list[str] | None, flag: str, *, numbers: bool = False) -> dict[str, Any]:
    """``["a=1", "b=x", "mnist1d-vit.steps=400"]`` → ``{"a": 1, "b": "x", "mnist1d-vit.steps": 400}``;
    a bad item is a one-line UserError naming ``flag``.

    ``numbers=True`` (``--param``): every value must be a number (returned as float), every name an
    identifier. A name given twice is refused (the last would otherwise win without a word)."""
    out: dict[str, Any] = {}
    for item in items or []:
        name, sep, text = item.partition("=")
        name, text = name.strip(), text.strip()
        if not sep or not _setting_name(name, numbers):
            raise UserError(f"{flag} expects NAME={'NUMBER' if numbers else 'VALUE'}, got {item!r}")
        if name in out:
            raise UserError(f"{flag} {name} is given twice; give each setting once")
        if numbers:
            try:
                out[name] = float(text)
            except ValueError:
                raise UserError(f"{flag} expects NAME=NUMBER, got {item!r}") from None
        else:
            out[name] = parse_value(text)
    return out


# -- types: a task's settings dataclass --------------------------------------------------------------
def _error(message: str) -> Exception:
    from actsearch.evaluators.errors import TaskError

    return TaskError(message)


def coerce(task: str, field: dataclasses.Field, value: Any, hints: dict[str, Any]) -> Any:
    """Convert an override to the field's type (int, float, bool, str, optional; a ``Literal`` of
    text declares a field's fixed set of values). A boolean is not a number: ``steps=true`` is
    refused, not trained as 1 step."""
    kind = hints[field.name]
    if typing.get_origin(kind) is typing.Literal:
        choices = typing.get_args(kind)
        if value not in choices:
            raise _error(f"task {task}: {field.name} must be one of {', '.join(map(str, choices))}, got {value!r}")
        return value
    args = typing.get_args(kind)
    optional = type(None) in args
    base = next((a for a in args if a is not type(None)), kind) if args else kind
    if value is None or (optional and isinstance(value, str) and value.lower() == "none"):
        if optional:
            return None
        raise _error(f"task {task}: {field.name} cannot be None")
    if base in (int, float) and isinstance(value, bool):
        raise _error(f"task {task}: {field.name} expects {base.__name__}, got {value!r}")
    try:
        if base is bool and isinstance(value, str):
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return value.lower() in ("true", "1", "yes")
        if base is int and isinstance(value, float) and not value.is_integer():
            raise ValueError
        if base is Any:
            return value
        return base(value)
    except (TypeError, ValueError):
        raise _error(f"task {task}: {field.name} expects {base.__name__}, got {value!r}") from None


def apply_overrides(task: str, config_type: type, overrides: dict[str, Any], base: Any = None, *,
                    limits: Mapping[str, Range]) -> Any:
    """A ``config_type`` instance (``base``'s values, else the defaults) with ``overrides`` applied,
    each converted to its field's type; every numeric field is then checked against its range in
    ``limits`` (the task's: a built-in's :meth:`~actsearch.evaluators.registry.TaskEntry.ranges`)."""
    fields = {f.name: f for f in dataclasses.fields(config_type)}
    hints = typing.get_type_hints(config_type)
    bad = [k for k in overrides if k not in fields]
    if bad:
        have = ", ".join(fields) or "none"
        raise _error(f"task {task} has no setting {bad[0]!r}; settings: {have}")
    values = {k: coerce(task, fields[k], v, hints) for k, v in overrides.items()}
    config = dataclasses.replace(base, **values) if base is not None else config_type(**values)
    try:
        check_task_settings(task, config, limits)
    except SettingError as err:
        raise _error(str(err)) from None
    return config


_TYPES = (bool, int, float, str)


def settings_type(task: str, defaults: dict[str, Any]) -> type:
    """A frozen-free settings dataclass for a user task: one field per declared setting, its type
    taken from the default (bool, int, float, str; ``None`` makes an optional float)."""
    fields = []
    for name, value in defaults.items():
        if not name.isidentifier():
            raise _error(f"task {task}: setting name {name!r} is not an identifier")
        if value is None:
            kind: Any = typing.Optional[float]  # noqa: UP045 - evaluated by get_type_hints
        elif isinstance(value, _TYPES):
            kind = type(value)
        else:
            raise _error(f"task {task}: setting {name!r} must default to a bool, int, float, str or None, "
                         f"got {type(value).__name__}")
        fields.append((name, kind, dataclasses.field(default=value)))
    cls = dataclasses.make_dataclass(f"{task.title().replace('-', '').replace('_', '')}Settings", fields)
    cls.__doc__ = f"Settings of the user task {task!r}."
    return cls


def as_dict(config: Any) -> dict[str, Any]:
    """The settings of a task as a plain dict (empty for a task without a dataclass config)."""
    if config is None or not dataclasses.is_dataclass(config):
        return {}
    return dataclasses.asdict(config)
