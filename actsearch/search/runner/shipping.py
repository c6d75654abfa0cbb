"""A user's task code to the workers of a Ray cluster, through Ray's runtime environment.

A search that joins a cluster (``--address``) hands :func:`runtime_env` to ``ray.init``, so every
node gets the code of the run's task without it being installed there:

- ``FILE.py:NAME`` — the file's directory travels as a ``py_modules`` entry (so the file's own
  imports of its neighbours work, as on the driver; ``.gitignore``/``.rayignore`` and
  :data:`EXCLUDES` apply — keep big data out of that directory). Workers import the shipped copy,
  found on ``sys.path`` by directory name, file name and sha256 through
  :data:`~actsearch.evaluators.resolve.SHIPPED_VAR` (:func:`actsearch.evaluators.resolve.shipped_copy`),
  not the driver's path, so a loopback cluster runs what a remote one would.
- ``package.module:NAME`` — its top-level package (or single-file module) as a ``py_modules``
  entry, unless it is installed (site-packages, the standard library) or is actsearch itself.
- built-in tasks, ``table:`` files (absolute paths: shared storage), entry points (installed
  packages by definition): nothing.

A panel ships each member's code. The embedded local Ray ships nothing: its workers share the
driver's filesystem and import the task file where it is. (Ray also puts the driver's current
directory on every worker's ``sys.path``; where that directory exists on a node — a shared
filesystem, a loopback cluster — a module found there is imported first: the driver's own code.)
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sysconfig
from pathlib import Path
from typing import Any

from actsearch.evaluators.resolve import FILE, MODULE, SHIPPED_VAR, parse_reference

# Never shipped from a task's directory (gitwildmatch patterns relative to it): run stores, Tune's
# files, caches, virtual environments.
EXCLUDES = (".git", "__pycache__", "*.pyc", ".venv", "venv", "runs", ".actsearch-tune", "*.sqlite",
            "*.sqlite-wal", "*.sqlite-shm", ".pytest_cache", ".ruff_cache")
PANEL = "panel:"


def _members(task: str) -> list[str]:
    if not task.startswith(PANEL):
        return [task]
    from actsearch.evaluators.panel import PANELS, member_names

    spec = task[len(PANEL):]
    return [] if spec.strip() in PANELS else list(member_names(spec))


def _installed(path: Path) -> bool:
    """Whether ``path`` lies in an installed location (site-packages or the standard library)."""
    paths = sysconfig.get_paths()
    roots = {Path(paths[k]).resolve() for k in ("purelib", "platlib", "stdlib", "platstdlib") if k in paths}
    return any(root == path or root in path.parents for root in roots) or "site-packages" in path.parts \
        or "dist-packages" in path.parts


def _module_root(module: str) -> Path | None:
    """The directory of ``module``'s top-level package (or its single file), or None when installed."""
    top = module.split(".")[0]
    if top == "actsearch":
        return None
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    locations = list(spec.submodule_search_locations or [])
    if len(locations) == 1:
        root = Path(locations[0]).resolve()
    elif not locations and spec.origin and spec.origin.endswith(".py"):
        root = Path(spec.origin).resolve()
    else:  # built-in, frozen, extension or a namespace package over several directories
        return None
    return None if _installed(root) else root


def runtime_env(task: str, run_dir: str | Path | None = None) -> dict[str, Any] | None:
    """The runtime environment that carries ``task``'s code to a cluster's workers (None: nothing to
    ship). ``run_dir`` is left out of what travels when it lies inside a shipped directory."""
    modules: list[str] = []
    shipped: dict[str, dict[str, str]] = {}
    excludes = list(EXCLUDES)
    for name in _members(task):
        if name.startswith("table:"):
            continue
        ref = parse_reference(name)
        if ref.kind == FILE:
            file = Path(ref.target)
            root = file.parent
            shipped[ref.target] = {"dir": root.name, "file": file.name,
                                   "sha256": hashlib.sha256(file.read_bytes()).hexdigest()}
        elif ref.kind == MODULE:
            root = _module_root(ref.target)
            if root is None:
                continue
        else:
            continue
        if str(root) not in modules:
            modules.append(str(root))
        if run_dir is not None and root.is_dir():
            inside = Path(run_dir).resolve()
            if root in inside.parents:
                excludes.append("/" + inside.relative_to(root).as_posix())
    if not modules:
        return None
    env: dict[str, Any] = {"py_modules": modules, "excludes": excludes}
    if shipped:
        env["env_vars"] = {SHIPPED_VAR: json.dumps(shipped, sort_keys=True)}
    return env
