"""The task's source as a run records it, and the check a resumed run makes against it.

A run stores under the metadata key ``task_source`` a :class:`TaskSource`: the task's stable
reference (a ``FILE.py:NAME`` made absolute, a module or entry point as named, a built-in task its
name) and the sha256 of the source it runs — the file, the module's file, a ``table:`` file, for a
panel its members' together; ``None`` for a built-in task, whose code is actsearch's own (recorded
with the version). ``resume`` recomputes it and refuses, in one line, a task whose source changed
since the run started, unless forced; a forced resume records the change (``task_source_changes``).
:func:`canonical` gives the spelling of a task a run stores and its workers resolve: files made
absolute (also inside a panel), so a run resumes from any directory.

A run directory is data, never authority: the code a stored task names (a ``FILE.py:NAME``, a
``module:NAME``, an entry point, such a member of a panel, a surrogate's probe task) runs only when
the user names it too. :func:`confirm` refuses, in one line and before anything is imported, to
resume such a run unless the task the user gives (``resume --task``, ``run_search(task=...)``) is
the stored one; built-in tasks, ``table:`` replays and panels of those need no confirmation.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

from actsearch.evaluators.reference import TaskKind, parse_reference
from actsearch.results.store import RunStoreError

META_KEY = "task_source"
CHANGES_KEY = "task_source_changes"  # forced resumes over a changed source: [{at, from, to}, ...]


class TaskNotConfirmed(RunStoreError):
    """A stored task names user code that the user did not name (resume refuses to import it)."""


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
    members likewise; every other name unchanged (:attr:`TaskRef.canonical`)."""
    return parse_reference(task).canonical


def _hash(task: str) -> str | None:
    from actsearch.evaluators.resolve import source_hash

    ref = parse_reference(task)
    if ref.kind is not TaskKind.PANEL:
        return source_hash(task)
    if ref.named_panel:  # a named panel is built-in tasks only
        return None
    members = [(m, source_hash(m.text)) for m in ref.members]
    if all(h is None for _, h in members):
        return None
    return hashlib.sha256("\n".join(f"{m.canonical}={h}" for m, h in members).encode()).hexdigest()


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


def user_code(task: str) -> list[str]:
    """The references in ``task`` that import code which is not actsearch's own: a file, module or
    entry-point task, or such members of a panel (nothing is read or imported to tell)."""
    return parse_reference(task).user_code()


def confirm(stored: Any, given: str | None, options: Any = None, *, flag: str = "--task") -> None:
    """Refuse (one line, :class:`TaskNotConfirmed`) to go on with a stored task that imports user
    code unless ``given``, the task the user names, is the same reference (paths made absolute).
    ``options``: the stored searcher options, whose ``task`` (a surrogate's probe) must then be
    the run's own task or built-in. Runs before anything the store names is imported."""
    from actsearch.results.text import visible

    if not isinstance(stored, str):
        raise TaskNotConfirmed(f"the stored task is {type(stored).__name__}, not a task reference")
    if given is not None and not isinstance(given, str):
        raise TaskNotConfirmed(f"{flag.rstrip('=')} must name a task as text, got {type(given).__name__}")
    shown = visible(stored)
    if given is None or canonical(given) != canonical(stored):
        if user_code(stored):
            other = "" if given is None else f" ({flag.rstrip('=')} {visible(given)} is another task)"
            raise TaskNotConfirmed(f"this run's task is the code at {shown}; resuming imports it: pass {flag}"
                                   f"{'' if flag.endswith('=') else ' '}{shown} to confirm{other}")
        if given is not None:
            raise TaskNotConfirmed(f"{flag.rstrip('=')} {visible(given)} is not this run's task ({shown})")
    probe = (options or {}).get("task") if isinstance(options, dict) else None
    if isinstance(probe, str) and user_code(probe) and canonical(probe) != canonical(stored):
        raise TaskNotConfirmed(f"this run's searcher option task={visible(probe)} names code that is not the "
                               "run's task; resuming would import it")
