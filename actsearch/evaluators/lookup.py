"""One name → one Task: the lookup every command and the Python API use.

``get_task(name, **settings)`` resolves a built-in name (:mod:`.tasks`), ``table:FILE`` (a replay,
:mod:`.table`), ``panel:A,B`` (:mod:`.panel`, whose members it builds through itself) and a user's
``FILE.py:NAME`` / ``module:NAME`` / entry point (:mod:`.resolve`). It lives above those modules so
that none of them imports another's registry (no import cycle).
"""

from __future__ import annotations

from typing import Any

from actsearch.evaluators.panel import PanelTask
from actsearch.evaluators.resolve import user_task
from actsearch.evaluators.table import TableTask
from actsearch.evaluators.task import Task, TaskError
from actsearch.evaluators.tasks import TASKS, built_in


def get_task(name: str, **overrides: Any) -> Task:
    """The task called ``name`` with config fields replaced by ``overrides``.

    ``table:FILE`` gives a lookup-table task (:mod:`actsearch.evaluators.table`), ``panel:A,B`` a
    panel of tasks (:mod:`actsearch.evaluators.panel`); ``FILE.py:NAME``, ``module:NAME`` and entry
    points of the group ``actsearch.tasks`` give a user's task (:mod:`actsearch.evaluators.resolve`).
    An unknown name or field raises :class:`TaskError` listing the valid ones.
    """
    if isinstance(name, str) and name.startswith("table:"):
        if overrides:
            raise TaskError(f"task {name} takes no settings; got {', '.join(overrides)}")
        return TableTask(name[len("table:"):])
    if isinstance(name, str) and name.startswith("panel:"):
        return PanelTask(name[len("panel:"):], build=get_task, **overrides)
    if name not in TASKS:
        return user_task(name, **overrides)
    return built_in(name, **overrides)
