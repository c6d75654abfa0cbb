"""A user's task code to the workers of a Ray cluster, through Ray's runtime environment.

A search that joins a cluster (``--address``) ships its task's code, so every node runs it without
an install. :func:`plan` decides what travels and sizes it before the run store is made or Ray is
started (a refusal costs nothing); :func:`runtime_env` copies exactly those files into a fresh
temporary directory and yields what ``ray.init`` takes, removing the copy when ``ray.init`` has
returned or failed. What travels, by default:

- ``FILE.py:NAME`` — the file alone; its whole directory when the file imports a neighbour
  (``import helper`` / ``from helper import ...`` naming a ``.py`` file or a package beside it, or a
  relative import — read with :mod:`ast`, never run). Workers import the shipped copy, found on
  ``sys.path`` by directory name, file name and sha256 through
  :data:`~actsearch.evaluators.resolve.SHIPPED_VAR` (:func:`actsearch.evaluators.resolve.shipped_copy`),
  not the driver's path, so a loopback cluster runs what a remote one would.
- ``package.module:NAME`` — its top-level package (or single-file module), unless it is installed
  (site-packages, the standard library) or is actsearch itself.
- built-in tasks, ``table:`` files (absolute paths: shared storage), entry points (installed
  packages by definition): nothing.

``--ship FILE_OR_DIR ...`` (``SearchSpec.ship``, stored with the run so ``resume`` ships the same)
names what travels from the task's directory (or package) instead; the task file always goes. The
limits, the ignore file and what never travels: :mod:`actsearch.search.infra.package`. A panel
ships each member's code. The embedded local Ray ships nothing: its workers share the driver's
filesystem. (Ray also puts the driver's current directory on every worker's ``sys.path``; where
that directory exists on a node — a shared filesystem, a loopback cluster — a module found there
is imported first: the driver's own code.)
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import os
import sysconfig
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actsearch.evaluators.resolve import FILE, MODULE, PANEL, SHIPPED_VAR, TABLE, TaskRef, parse_reference
from actsearch.search.infra.package import (
    MAX_BYTES,
    Item,
    Package,
    ShipError,
    check_size,
    collect,
    human,
    stage,
)

NAMED = 5  # file names a warning lists before "and N more"


def _members(task: str) -> list[TaskRef]:
    """The task, or a panel's members (a named panel's are built-in tasks: none ship code)."""
    ref = parse_reference(task)
    if ref.kind is not PANEL:
        return [ref]
    return [] if ref.named_panel else list(ref.members)


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


def imports_neighbours(file: Path) -> bool:
    """Whether the task file imports a module that lies beside it (a ``.py`` file, a package, an
    extension module) or anything relative; read with :mod:`ast`, never executed. Imports inside
    functions count too. A file that does not parse imports nothing."""
    try:
        tree = ast.parse(file.read_bytes())
    except (SyntaxError, ValueError, OSError, RecursionError, MemoryError):
        return False
    folder = file.parent
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                return True
            names = [node.module or ""]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for top in {n.split(".")[0] for n in names if n}:
            beside = folder / f"{top}.py"
            if (beside.is_file() and beside.name != file.name) or (folder / top).is_dir() \
                    or any(folder.glob(f"{top}.*.so")) or any(folder.glob(f"{top}.*.pyd")):
                return True
    return False


@dataclass
class ShipPlan:
    """What a run ships: one package per root, and the task files workers look up in them."""

    packages: list[Package]
    tasks: list[tuple[str, int, str]] = field(default_factory=list)  # (driver's path, package, file's rel path)

    def notes(self) -> list[str]:
        """One line saying what travels, and one warning naming files left out as secrets."""
        parts = []
        for p in self.packages:
            what = f"{len(p.items)} files" if len(p.items) != 1 else f"{p.items[0].rel} alone"
            parts.append(f"{p.root}: {what}, {human(p.size)}")
        lines = [f"note: shipping to the cluster (--ship chooses; limit {human(MAX_BYTES)}): " + "; ".join(parts)]
        secrets = [str(p.root / rel) for p in self.packages for rel in p.secrets]
        if secrets:
            more = f" and {len(secrets) - NAMED} more" if len(secrets) > NAMED else ""
            lines.append(f"warning: not shipping {len(secrets)} file(s) that look like secrets: "
                         f"{', '.join(secrets[:NAMED])}{more} (name one with --ship to ship it)")
        return lines


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _ship_paths(ship: Sequence[Any]) -> list[Path]:
    paths = []
    for entry in ship:
        if not isinstance(entry, (str, os.PathLike)) or not str(entry):
            raise ShipError(f"--ship takes file or directory paths, got {entry!r}"[:200])
        path = Path(entry).resolve()
        if not path.exists():
            raise ShipError(f"--ship {entry}: no such file or directory")
        paths.append(path)
    return paths


def plan(task: str, ship: Sequence[Any] = (), run_dir: str | os.PathLike | None = None) -> ShipPlan | None:
    """What ``task`` ships to a cluster (None: nothing), its size checked against the limits;
    ``ship`` (paths) narrows it; ``run_dir`` never travels. Raises ShipError in one line."""
    wanted = _ship_paths(ship)
    roots: dict[Path, dict[str, Any]] = {}  # root -> {"single", "files": task files, "whole": ship all}
    for ref in _members(task):
        if ref.kind is TABLE:
            continue
        if ref.kind == FILE:
            file = Path(ref.target).parent.resolve() / Path(ref.target).name
            entry = roots.setdefault(file.parent, {"single": False, "files": {}, "whole": False})
            entry["files"][ref.target] = file
        elif ref.kind == MODULE:
            found = _module_root(ref.target)
            if found is None:
                continue
            single = found.is_file()
            roots.setdefault(found.parent if single else found, {"single": single, "files": {}, "whole": not single,
                                                                 "module": found})
    if wanted and not roots:
        raise ShipError(f"--ship: the task {task} ships no code of its own (built-in, installed, or a table)")
    deepest = sorted(roots, key=lambda r: -len(r.parts))
    chosen: dict[Path, list[Path]] = {}
    for path in wanted:
        home = next((r for r in deepest if _inside(path, r) and not roots[r]["single"]), None)
        if home is None:
            raise ShipError(f"--ship {path} is not inside the task's directory ({', '.join(map(str, roots))}): "
                            "what travels keeps its place relative to the task")
        chosen.setdefault(home, []).append(path)
    skip = [Path(run_dir)] if run_dir is not None else []
    shipping = ShipPlan([])
    for root, entry in roots.items():
        if entry["single"]:
            module = entry["module"]
            package = Package(root, [Item(module.name, module, module.stat().st_size)], single=True)
        else:
            files = list(entry["files"].values())
            whole = entry["whole"] or any(f.stat().st_size <= MAX_BYTES and imports_neighbours(f) for f in files)
            only = chosen.get(root) if root in chosen else (None if whole else [])
            package = collect(root, only=only, always=files, skip=skip)
        for driver, file in entry["files"].items():
            shipping.tasks.append((driver, len(shipping.packages), file.name))
        shipping.packages.append(package)
    if not shipping.packages:
        return None
    check_size(shipping.packages)
    return shipping


@contextmanager
def runtime_env(shipping: ShipPlan | None) -> Iterator[dict[str, Any] | None]:
    """The runtime environment that carries the planned code to a cluster's workers (None: nothing
    to ship), over a staged copy of exactly the planned files that is removed on leaving."""
    if shipping is None:
        yield None
        return
    with stage(shipping.packages) as entries:
        env: dict[str, Any] = {"py_modules": [str(e) for e in entries]}
        shipped = {}
        for driver, n, rel in shipping.tasks:
            copy = entries[n] / rel
            shipped[driver] = {"dir": entries[n].name, "file": rel,
                               "sha256": hashlib.sha256(copy.read_bytes()).hexdigest()}
        if shipped:
            env["env_vars"] = {SHIPPED_VAR: json.dumps(shipped, sort_keys=True)}
        yield env
