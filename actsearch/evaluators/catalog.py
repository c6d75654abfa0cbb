"""The names of the built-in tasks and panels, each task with one line: what help texts, task
references and ``actsearch tasks`` need, derived from the task registry
(:mod:`actsearch.evaluators.registry`) in a module that imports no torch (``actsearch --help``
stays fast; building a task costs seconds).

The panels are run by :mod:`actsearch.evaluators.panel`.
"""

from __future__ import annotations

from actsearch.evaluators.registry import entries

TASKS: dict[str, str] = {entry.name: entry.description for entry in entries()}

PANELS: dict[str, tuple[str, ...]] = {
    # the deep plain MLP of the default search and the three transfer architectures
    "transfer": ("mnist1d", "mnist1d-cnn", "mnist1d-resnet-ln", "mnist1d-vit"),
}


def task_help() -> str:
    """The ``--task`` help text of every command that takes one."""
    return (f"a task: {', '.join(TASKS)}; table:FILE; panel:A,B or panel:{'|'.join(PANELS)}; FILE.py:NAME or "
            "module:NAME (see actsearch tasks)")
