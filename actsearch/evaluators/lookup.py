"""One name → one Task: the lookup every command and the Python API use.

``get_task(name, **settings)`` parses the reference once (:func:`~actsearch.evaluators.resolve.parse_reference`)
and builds what it names: a built-in task (:mod:`.tasks`), ``table:FILE`` (a replay, :mod:`.table`),
``panel:A,B`` (:mod:`.panel`, whose members — any tasks, a user's included — it builds through
itself) or a user's ``FILE.py:NAME`` / ``module:NAME`` / entry point (:mod:`.resolve`). It lives
above those modules so that none of them imports another's registry (no import cycle).
"""

from __future__ import annotations

from typing import Any

from actsearch.evaluators.panel import PanelTask
from actsearch.evaluators.resolve import (
    BUILTIN,
    PANEL,
    TABLE,
    TaskRef,
    parse_reference,
    user_task,
)
from actsearch.evaluators.table import TableTask
from actsearch.evaluators.task import Task, TaskError
from actsearch.evaluators.tasks import built_in


def get_task(name: str | TaskRef, **overrides: Any) -> Task:
    """The task called ``name`` (text or a parsed :class:`TaskRef`) with config fields replaced by ``overrides``.

    ``table:FILE`` gives a lookup-table task (:mod:`actsearch.evaluators.table`), ``panel:A,B`` a
    panel of tasks (:mod:`actsearch.evaluators.panel`); ``FILE.py:NAME``, ``module:NAME`` and entry
    points of the group ``actsearch.tasks`` give a user's task (:mod:`actsearch.evaluators.resolve`).
    An unknown name or field raises :class:`TaskError` listing the valid ones.
    """
    ref = name if isinstance(name, TaskRef) else parse_reference(name)
    if ref.kind is TABLE:
        if overrides:
            raise TaskError(f"task {ref.text} takes no settings; got {', '.join(overrides)}")
        return TableTask(ref.table_as_given)
    if ref.kind is PANEL:
        return PanelTask(ref, build=get_task, **overrides)
    if ref.kind is BUILTIN:
        return built_in(ref.target, **overrides)
    return user_task(ref, **overrides)
