"""The task's source as a run records it, and the check a resumed run makes against it.

A run stores under the metadata key ``task_source`` a :class:`TaskSource`: the task's stable
reference (a ``FILE.py:NAME`` made absolute, a module or entry point as named, a built-in task its
name) and the sha256 of the source it runs — the file, the module's file, a ``table:`` file, for a
panel its members' together; ``None`` for a built-in task, whose code is actsearch's own (recorded
with the version). ``resume`` recomputes it and refuses, in one line, a task whose source changed
since the run started, unless forced; a forced resume records the change (``task_source_changes``).
:func:`canonical` gives the spelling of a task a run stores and its workers resolve: files made
absolute (also inside a panel), so a run resumes from any directory.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from actsearch.results.store import RunStoreError

META_KEY = "task_source"
CHANGES_KEY = "task_source_changes"  # forced resumes over a changed source: [{at, from, to}, ...]
PANEL, TABLE = "panel:", "table:"


class TaskSourceChanged(RunStoreError):
    """The task's source differs from the one the run started with (resume refuses it unless forced)."""


@dataclass(frozen=True)
class TaskSource:
    """A task's stable reference and the hash of its source (None: a built-in task)."""

    reference: str
    sha256: str | None

    @classmethod
    def of(cls, task: str) -> TaskSource:
        """The source of the task named ``task`` now (its files are read)."""
        return cls(canonical(task), _hash(task))

    @classmethod
    def from_meta(cls, value: Any) -> TaskSource | None:
        """The stored record, or None when the run predates it (or it is malformed)."""
        if not isinstance(value, dict) or not isinstance(value.get("reference"), str):
            return None
        digest = value.get("sha256")
        return cls(value["reference"], digest if isinstance(digest, str) else None)

    def as_meta(self) -> dict[str, Any]:
        return asdict(self)


def canonical(task: str) -> str:
    """``task`` as a run stores it: ``FILE.py:NAME`` and ``table:FILE`` with absolute paths, a panel's
    members likewise; every other name unchanged."""
    from actsearch.evaluators.resolve import FILE, parse_reference

    if task.startswith(TABLE):
        return TABLE + str(Path(task[len(TABLE):]).expanduser().resolve())
    if task.startswith(PANEL):
        from actsearch.evaluators.panel import PANELS, member_names

        spec = task[len(PANEL):]
        return task if spec.strip() in PANELS else PANEL + ",".join(canonical(m) for m in member_names(spec))
    ref = parse_reference(task)
    return ref.stable if ref.kind == FILE else task


def _hash(task: str) -> str | None:
    from actsearch.evaluators.resolve import source_hash

    if not task.startswith(PANEL):
        return source_hash(task)
    from actsearch.evaluators.panel import PANELS, member_names

    spec = task[len(PANEL):]
    if spec.strip() in PANELS:  # a named panel is built-in tasks only
        return None
    members = [(m, source_hash(m)) for m in member_names(spec)]
    if all(h is None for _, h in members):
        return None
    return hashlib.sha256("\n".join(f"{canonical(m)}={h}" for m, h in members).encode()).hexdigest()


def check_resume(stored: TaskSource | None, now: TaskSource, *, force: bool) -> bool:
    """Whether the source changed (True only when forced); raises :class:`TaskSourceChanged` (one
    line) when it changed and ``force`` is off. A run without a stored record is not checked."""
    if stored is None or stored.sha256 == now.sha256:
        return False
    if force:
        return True
    old, new = (h[:12] if h else "none" for h in (stored.sha256, now.sha256))
    raise TaskSourceChanged(f"the source of task {now.reference} changed since the run started (sha256 {old}… "
                            f"now {new}…); restore it, or resume with --force to go on with the new source")
