"""One resolver for every way of naming a task, used by every command through ``get_task``.

A task is named by

- a built-in name (``mnist1d``, ``digits`` …) from :mod:`actsearch.evaluators.tasks`;
- ``table:FILE`` — the replay of a scored table;
- ``path/to/file.py:NAME`` — an object in a Python file (the file is imported once per process);
- ``package.module:NAME`` — an object in an importable module;
- the name of an entry point in the group ``actsearch.tasks`` of an installed package.

The object may be a task (anything offering :class:`~actsearch.evaluators.protocol.TaskProtocol`:
a ``ModelTask``, an ``@actsearch.task`` function, a custom class instance) or a plain function
``fn(act, seed, report[, settings])``. Every bad reference — no such file, module or object, an
object that is not a task, a wrong signature — is a one-line :class:`TaskError` before anything
starts. Importing a user's file or module is bounded: a module that does not finish importing
within the run's time limit (:func:`import_time_limit`; ``IMPORT_TIME_LIMIT_S`` by default), or
that calls ``sys.exit`` or raises ``KeyboardInterrupt`` while it is imported, is a one-line
:class:`TaskError` too (a Ctrl-C of the user still interrupts). :func:`source_hash` and
:func:`stable_reference` give what a run store records (:mod:`actsearch.search.rundir.source`);
:func:`known_tasks` lists every task for ``actsearch tasks``; :func:`reference_of` names a task
object by the file or module that holds it (``run_search(task=obj)``).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import inspect
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actsearch.evaluators.errors import TaskError
from actsearch.evaluators.guard import ImportRefused, guarded_import
from actsearch.evaluators.protocol import is_task
from actsearch.evaluators.reference import (  # noqa: F401 - the task reference, parsed once
    BUILTIN,
    ENTRY_POINT,
    ENTRY_POINT_GROUP,
    FILE,
    MODULE,
    PANEL,
    PANEL_PREFIX,
    TABLE,
    TABLE_PREFIX,
    TaskKind,
    TaskRef,
    entry_points,
    parse_reference,
)
from actsearch.evaluators.task import Task, as_task_object

# On a cluster's workers, JSON {driver's path: {dir, file, sha256}} of task files shipped with the
# run (set by actsearch.search.infra.shipping through Ray's runtime environment): see shipped_copy.
SHIPPED_VAR = "ACTSEARCH_SHIPPED_FILES"
_FILES: dict[str, tuple[bytes, Any]] = {}  # absolute path -> (its source, the module imported from it)


@dataclass
class TaskInfo:
    """One line of ``actsearch tasks``."""

    name: str  # how to name it on the command line
    origin: str  # built-in, an entry point's package and value, or a file
    settings: dict[str, Any] = field(default_factory=dict)  # the default settings
    description: str = ""  # the first line of its settings' (or function's) docstring


def _import_file(path: str) -> Any:
    """The module of a task file, imported once per process and content (an edited file is re-imported)."""
    file = Path(path)
    if not file.is_file():
        raise TaskError(f"no task file {path!r}")
    try:
        source = file.read_bytes()
    except OSError as err:
        raise TaskError(f"cannot read task file {path}: {err.strerror or err}") from None
    if path in _FILES and _FILES[path][0] == source:
        return _FILES[path][1]
    name = f"_actsearch_task_{hashlib.sha256(path.encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise TaskError(f"cannot import {path!r} as a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up by name
    sys.path.insert(0, str(file.parent))  # the file may import its neighbours
    try:
        with guarded_import(f"task file {path}"):
            spec.loader.exec_module(module)  # the user's own code, named by the user
    except ImportRefused:
        sys.modules.pop(name, None)
        raise
    except Exception as err:
        sys.modules.pop(name, None)
        raise TaskError(f"cannot load task file {path}: {type(err).__name__}: {' '.join(str(err).split())[:200]}") from None
    except BaseException:
        sys.modules.pop(name, None)
        raise
    finally:
        if sys.path and sys.path[0] == str(file.parent):
            sys.path.pop(0)
    _FILES[path] = (source, module)
    return module


def shipped_copy(path: str) -> str:
    """The task file to import for the driver's ``path``: on a worker of a cluster run, the copy Ray
    shipped with the run (a ``DIR/FILE`` under an entry of ``sys.path`` with the recorded sha256);
    everywhere else, and when no such copy is found, ``path`` itself."""
    try:
        entry = json.loads(os.environ.get(SHIPPED_VAR) or "{}").get(path)
        folder, name, digest = entry["dir"], entry["file"], entry["sha256"]
    except (ValueError, TypeError, KeyError, AttributeError):
        return path
    for base in sys.path:
        copy = Path(base or ".", folder, name)
        try:
            if copy.is_file() and hashlib.sha256(copy.read_bytes()).hexdigest() == digest:
                return str(copy.resolve())
        except OSError:
            continue
    return path


def _import_module(name: str) -> Any:
    try:
        with guarded_import(f"module {name}"):
            return importlib.import_module(name)
    except ImportRefused:
        raise
    except ModuleNotFoundError as err:
        if err.name and name.startswith(err.name):
            raise TaskError(f"no module {name!r} (is it installed, or on PYTHONPATH?)") from None
        raise TaskError(f"cannot import module {name}: {err}") from None
    except Exception as err:
        raise TaskError(f"cannot import module {name}: {type(err).__name__}: {' '.join(str(err).split())[:200]}") from None


def as_task(obj: Any, name: str, where: str) -> Task:
    """``obj`` as a :class:`~actsearch.evaluators.task.Task`: itself, an object offering the protocol
    wrapped as a :class:`~actsearch.evaluators.task.ProtocolTask`, a plain function wrapped as a
    :class:`~actsearch.evaluators.user.UserTask`, anything else refused in one line."""
    if isinstance(obj, Task) or is_task(obj):
        return as_task_object(obj)
    if inspect.isclass(obj):
        raise TaskError(f"{where}: {name} is a class; name an instance of it (a task), or a function")
    if inspect.isfunction(obj) or inspect.ismethod(obj) or (callable(obj) and not isinstance(obj, type)):
        from actsearch.evaluators.user import UserTask

        return UserTask(obj, name)
    raise TaskError(f"{where}: {name} is a {type(obj).__name__}, not a task (a ModelTask, an "
                    "@actsearch.task function or fn(act, seed, report))")


def load(ref: TaskRef) -> Task:
    """The task object a file, module or entry-point reference names (before settings)."""
    if ref.kind == FILE:
        module, where = _import_file(shipped_copy(ref.target)), ref.target
    elif ref.kind == MODULE:
        module, where = _import_module(ref.target), f"module {ref.target}"
    elif ref.kind == ENTRY_POINT:
        module_name, _, attr = ref.target.partition(":")
        return as_task(_attr(_import_module(module_name), attr, ref.target), ref.text, f"entry point {ref.text}")
    else:
        raise TaskError(f"{ref.text!r} is not a user task reference")
    return as_task(_attr(module, ref.attr, where), ref.attr, where)


def _attr(module: Any, attr: str, where: str) -> Any:
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            found = [n for n, v in vars(module).items() if not n.startswith("_") and is_task(v)]
            hint = f"; tasks there: {', '.join(found)}" if found else ""
            raise TaskError(f"{where} has no {attr!r}{hint}")
        obj = getattr(obj, part)
    return obj


def user_task(ref: TaskRef, **overrides: Any) -> Task:
    """A file, module or entry-point task with its settings replaced by ``overrides``, checked."""
    task = load(ref).with_settings(**overrides)
    task.check()
    return task


def reference_of(obj: Any, where: str = "run_search") -> str:
    """The reference that names a task object (a ``ModelTask``, an ``@actsearch.task`` function, a
    task instance, a plain ``fn(act, seed, report)``), for runs that record their task by reference
    and import it again in workers and on resume: ``FILE.py:NAME`` for an object of a task file that
    :func:`load` imported, else ``module:NAME`` for one bound at the top level of an imported module
    (the module where a function was defined first). An object bound only in ``__main__`` (a script
    run directly, a notebook) or nowhere is a one-line :class:`TaskError` saying how to name it."""
    as_task(obj, "task", where)  # not a task at all: the usual one-line refusal
    files = {id(module): path for path, (_, module) in _FILES.items()}
    from actsearch.evaluators.user import UserTask

    defined = getattr(obj.fn if isinstance(obj, UserTask) else obj, "__module__", None)
    found: list[tuple[int, str, str]] = []  # (preference, module name, attribute)
    in_main = False
    for name, module in list(sys.modules.items()):
        try:
            attrs = [a for a, v in list(vars(module).items()) if v is obj and a.isidentifier()]
        except TypeError:  # not a module object
            continue
        if not attrs:
            continue
        if name == "__main__" or name.startswith("__mp_main__"):
            in_main = True
            continue
        rank = 0 if id(module) in files else 1 if name == defined else 2
        found += [(rank, name, a) for a in attrs]
    if found:
        _, name, attr = min(found)
        module = sys.modules[name]
        return f"{files[id(module)]}:{attr}" if id(module) in files else f"{name}:{attr}"
    shown = repr(obj) if len(repr(obj)) <= 60 else f"a {type(obj).__name__}"
    if in_main:
        raise TaskError(f"{where}: the task {shown} is defined in __main__ (a script run directly or a notebook), "
                        "which a run cannot import again; define it in a file or module and pass it from there "
                        "(from my_tasks import task), or pass task='my_tasks.py:task'")
    raise TaskError(f"{where}: the task {shown} is not a top-level name of any module or task file, so a run "
                    "cannot name it (workers and resume import it by name); bind it to a name in a file or "
                    "module, or pass task='FILE.py:NAME' with settings={...}")


def source_hash(text: str) -> str | None:
    """sha256 of the source a task reference runs: the file, or the module's file; None for a
    built-in task (its code is actsearch's own, recorded with the version)."""
    ref = parse_reference(text)
    if ref.kind in (FILE, TABLE):
        path = Path(ref.target)
    elif ref.kind in (MODULE, ENTRY_POINT):
        module = ref.target.partition(":")[0]
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.origin or not Path(spec.origin).is_file():
            raise TaskError(f"no source file for module {module!r}")
        path = Path(spec.origin)
    else:
        return None
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as err:
        raise TaskError(f"cannot read {path}: {err.strerror or err}") from None


def stable_reference(text: str) -> str:
    """The reference a run store records for ``text`` (files made absolute): its canonical form."""
    return parse_reference(text).canonical


def known_tasks() -> list[TaskInfo]:
    """Every built-in task and every installed entry point, with where it comes from and its settings."""
    import dataclasses

    from actsearch.evaluators.registry import entries
    from actsearch.evaluators.settings import as_dict

    infos = [TaskInfo(e.name, "built-in", dataclasses.asdict(e.defaults()), e.description) for e in entries()]
    infos.append(TaskInfo("table:FILE", "built-in (replay of a scored CSV/JSON table)", {}, "scores looked up by fingerprint"))
    for ep in entry_points():
        dist = getattr(ep, "dist", None)
        origin = f"entry point {ep.value}" + (f" ({dist.name})" if dist is not None else "")
        try:
            task = load(TaskRef(ENTRY_POINT, ep.value, None, ep.name))
            infos.append(TaskInfo(ep.name, origin, as_dict(task.config), task.describe()))
        except TaskError as err:
            infos.append(TaskInfo(ep.name, origin, {}, f"cannot load: {err}"))
    return infos


def describe(text: str) -> TaskInfo:
    """The :class:`TaskInfo` of one user task reference (``actsearch tasks FILE.py:NAME``)."""
    from actsearch.evaluators.settings import as_dict

    ref = parse_reference(text)
    if ref.kind in (BUILTIN, TABLE, PANEL):
        return next((i for i in known_tasks() if i.name == text), TaskInfo(text, "built-in"))
    task = load(ref)
    origin = {FILE: f"file {ref.target}", MODULE: f"module {ref.target}", ENTRY_POINT: f"entry point {ref.target}"}
    return TaskInfo(text, origin[ref.kind], as_dict(task.config), task.describe())
