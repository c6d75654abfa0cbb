"""A task reference, parsed once into one typed value: :class:`TaskRef` of a :class:`TaskKind`.

A task is named by a built-in name (``mnist1d``), ``table:FILE``, ``panel:A,B`` (members: any
references but panels) or a named panel (``panel:transfer``), ``FILE.py:NAME``, ``module:NAME``
or the name of an entry point of the group ``actsearch.tasks``. :func:`parse_reference` is the one
place those forms are told apart (nothing is read or imported); everything else asks the value —
``ref.kind is TaskKind.TABLE``, ``ref.canonical`` (what a run store records), ``ref.members``.
The module stays light (no torch): the CLI's help and run settings use it.
"""

from __future__ import annotations

import enum
import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

from actsearch.evaluators.errors import TaskError

ENTRY_POINT_GROUP = "actsearch.tasks"
TABLE_PREFIX, PANEL_PREFIX = "table:", "panel:"


class TaskKind(str, enum.Enum):
    """What a task reference names."""

    BUILTIN = "builtin"  # a registered name (mnist1d, digits ...)
    TABLE = "table"  # table:FILE, the replay of a scored table
    PANEL = "panel"  # panel:A,B or a named panel (panel:transfer)
    FILE = "file"  # FILE.py:NAME
    MODULE = "module"  # package.module:NAME
    ENTRY_POINT = "entry-point"  # an installed entry point of the group actsearch.tasks

    @property
    def user_code(self) -> bool:
        """Whether the reference imports code that is not actsearch's own."""
        return self in (TaskKind.FILE, TaskKind.MODULE, TaskKind.ENTRY_POINT)


BUILTIN, TABLE, PANEL, FILE, MODULE, ENTRY_POINT = TaskKind  # short names


@dataclass(frozen=True)
class TaskRef:
    """A parsed task reference: the one typed value every command and the run store ask."""

    kind: TaskKind
    target: str  # the task name, the table / Python file (absolute), the module, the entry point's value,
    #              or a panel's spec (its member list, or the name of a named panel)
    attr: str | None = None  # the object's name inside the file or module
    text: str = ""  # the reference as given
    members: tuple[TaskRef, ...] = ()  # a panel's members, in order

    @property
    def named_panel(self) -> bool:
        """A panel named in the catalog (``panel:transfer``)."""
        from actsearch.evaluators.catalog import PANELS

        return self.kind is PANEL and self.target.strip() in PANELS

    @property
    def canonical(self) -> str:
        """The reference as a run store records it: files and tables as absolute paths, a panel's
        members likewise (a named panel as given); every other name as given."""
        if self.kind is TABLE:
            return TABLE_PREFIX + self.target
        if self.kind is PANEL:
            return self.text if self.named_panel else PANEL_PREFIX + ",".join(m.canonical for m in self.members)
        if self.kind is FILE:
            return f"{self.target}:{self.attr}"
        return self.text

    @property
    def located(self) -> str:
        """The reference with its tables (a panel's included) as absolute paths, everything else as
        given: what a search hands its workers, which may run in another directory."""
        if self.kind is TABLE:
            return self.canonical
        if self.kind is PANEL and not self.named_panel:
            return PANEL_PREFIX + ",".join(m.located for m in self.members)
        return self.text

    @property
    def table_as_given(self) -> str:
        """A ``table:`` reference's file as the user wrote it (relative paths stay relative)."""
        if self.kind is not TABLE:
            raise TaskError(f"{self.text!r} is not a table: reference")
        return self.text.strip()[len(TABLE_PREFIX):]

    @property
    def member_names(self) -> tuple[str, ...]:
        """A panel's member references as given (a named panel's: its built-in tasks)."""
        return tuple(m.text for m in self.members)

    def user_code(self) -> list[str]:
        """The references in this one that import code which is not actsearch's own (a panel's members)."""
        if self.kind is PANEL:
            return [m.text for m in self.members if m.kind.user_code]
        return [self.text] if self.kind.user_code else []


def entry_points() -> list[importlib.metadata.EntryPoint]:
    """The installed entry points of the group ``actsearch.tasks``."""
    return list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))


def parse_reference(text: str) -> TaskRef:
    """What kind of reference ``text`` is (no file is read and nothing is imported); a panel's
    members are parsed too (at least one, no duplicates, no panel inside a panel)."""
    from actsearch.evaluators import registry
    from actsearch.evaluators.catalog import PANELS, TASKS

    if not isinstance(text, str) or not text.strip():
        raise TaskError(f"a task is named by text, got {text!r}")
    given, text = text, text.strip()
    if text.startswith(PANEL_PREFIX):
        spec = given.strip()[len(PANEL_PREFIX):]
        names = PANELS.get(spec.strip()) or tuple(t.strip() for t in spec.split(",") if t.strip())
        if not names:
            raise TaskError(f"panel {spec!r} names no task; write panel:A,B or one of: {', '.join(PANELS)}")
        dup = next((n for n in names if names.count(n) > 1), None)
        if dup:
            raise TaskError(f"panel {spec!r} names {dup!r} twice")
        if any(n.startswith(PANEL_PREFIX) for n in names):
            raise TaskError(f"panel {spec!r}: a panel cannot be a member of a panel")
        return TaskRef(PANEL, spec, None, given, tuple(parse_reference(n) for n in names))
    if text.startswith(TABLE_PREFIX):
        return TaskRef(TABLE, str(Path(text[len(TABLE_PREFIX):]).expanduser().resolve()), None, text)
    if text in TASKS or registry.find(text) is not None:  # also one a package registered after import
        return TaskRef(BUILTIN, text, None, text)
    if ":" in text:
        target, _, attr = text.rpartition(":")
        if not attr.isidentifier() or not target:
            raise TaskError(f"task reference {text!r}: expected FILE.py:NAME or package.module:NAME")
        if target.endswith(".py") or "/" in target or "\\" in target:
            return TaskRef(FILE, str(Path(target).expanduser().resolve()), attr, text)
        if not all(part.isidentifier() for part in target.split(".")):
            raise TaskError(f"task reference {text!r}: {target!r} is neither a .py file nor a module name")
        return TaskRef(MODULE, target, attr, text)
    for ep in entry_points():
        if ep.name == text:
            return TaskRef(ENTRY_POINT, ep.value, None, text)
    names = ", ".join(TASKS)
    raise TaskError(f"unknown task {text!r}; expected one of {names}, table:FILE, panel:A,B, FILE.py:NAME, "
                    f"module:NAME or an installed '{ENTRY_POINT_GROUP}' entry point (see actsearch tasks)")


def is_table(text: str) -> bool:
    """Whether ``text`` names a ``table:`` replay (without parsing the rest of it)."""
    return isinstance(text, str) and text.strip().startswith(TABLE_PREFIX)


def located(text: str) -> str:
    """``text`` with its tables (a panel's included) as absolute paths (:attr:`TaskRef.located`);
    any other reference unchanged, and not parsed here."""
    stripped = text.strip() if isinstance(text, str) else ""
    if stripped.startswith((TABLE_PREFIX, PANEL_PREFIX)):
        return parse_reference(text).located
    return text
