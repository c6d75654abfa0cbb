"""The files a task ships to a Ray cluster: an explicit list, sized before anything travels.

:func:`collect` lists the files under one root (a task file's directory, or a module's top-level
package) with their sizes; :func:`check_size` refuses a list over :data:`MAX_BYTES` or
:data:`MAX_FILES` in one line naming its largest entries; :func:`stage` copies exactly the listed
bytes into a fresh directory outside the user's tree, which is what Ray zips and uploads
(:mod:`actsearch.search.infra.shipping` puts them together). Bounded by construction, because a
directory Ray writes into (its temp dir, started with ``--temp-dir`` beside the task) must never
pack a zip that holds itself:

- the list is made, and summed, before Ray is started; the walk looks at no more than
  :data:`MAX_ENTRIES` directory entries;
- the staged copy holds the counted bytes only (a file that grew since it was counted is refused);
- what is not code is never listed, whatever its name: directories holding ``pyvenv.cfg`` or
  ``conda-meta`` (environments), Ray temp and session directories (by Ray's own files: a
  ``session_latest`` link, ``ray_current_cluster``, ``session_DATE_...`` directories, a directory
  with ``logs/`` and ``sockets/``), run directories (``run.sqlite``), caches and VCS directories
  (:data:`NEVER_DIRS`), compiled and store files (:data:`NEVER_FILES`), links to directories, links
  to files outside the root, and anything that is not a regular file;
- files whose names look like secrets (:data:`SECRETS`; Python sources are code and exempt) are
  left out and reported, unless named one by one with ``--ship``;
- ``.actsearchignore`` in the root lists what else to leave out, in ``.gitignore``'s syntax
  (``#`` comments, ``!`` to re-include, a trailing ``/`` for directories only, ``/`` to anchor,
  ``*``, ``?``, ``[...]``, ``**``).
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from actsearch.errors import UserError
from actsearch.results.records import DB_NAME, LOCK_NAME

MiB = 1024 * 1024
MAX_BYTES = 100 * MiB  # the most a run ships to a cluster, all its files together
MAX_FILES = 5_000  # the most files it ships
MAX_ENTRIES = 200_000  # directory entries a walk looks at before it gives up
MAX_IGNORE_BYTES = 64 * 1024  # an ignore file is read up to this size
IGNORE_FILE = ".actsearchignore"
NEVER_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache",
                        ".hypothesis", ".ipynb_checkpoints", ".tox", ".nox", ".actsearch-tune"})
NEVER_FILES = ("*.pyc", "*.pyo", "*.sqlite", "*.sqlite-wal", "*.sqlite-shm", "*.sqlite-journal",
               "ray_current_cluster", ".gitignore", ".rayignore", IGNORE_FILE)
SECRETS = (".env", ".env.*", "*.env", "*token*", "*secret*", "*password*", "*credential*", "*.pem", "*.key",
           "*.p12", "*.pfx", "*.keystore", "*.jks", "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*", ".netrc",
           ".pgpass", ".pypirc", ".htpasswd")
RAY_SESSION = re.compile(r"session_\d{4}-\d{2}-\d{2}_.*")  # Ray's session_DATE_TIME_USEC_PID directories
TOP = 5  # largest entries a refusal names


class ShipError(UserError):
    """What a task would ship to a cluster is too big, unreadable, or not where it must be."""


@dataclass(frozen=True)
class Item:
    """One file to ship: its path under the root (POSIX), the file to read, its counted size."""

    rel: str
    source: Path
    size: int


@dataclass
class Package:
    """The files of one root that travel as one ``py_modules`` entry.

    ``single``: the root is a single-file module, shipped as the file itself; otherwise the entry
    is a directory named as the root holding ``rel`` paths (where workers find a task file by
    directory name, file name and sha256)."""

    root: Path
    items: list[Item] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)  # left out: names that look like secrets
    single: bool = False

    @property
    def size(self) -> int:
        return sum(i.size for i in self.items)


def human(size: float) -> str:
    """``size`` bytes as B, KiB, MiB or GiB."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"  # pragma: no cover


# --- what is never code -------------------------------------------------------------------------

def not_code(path: Path, names: set[str]) -> str | None:
    """Why the directory ``path`` (holding ``names``) is never shipped, or None."""
    if path.name in NEVER_DIRS:
        return "a cache or version-control directory"
    if "pyvenv.cfg" in names:
        return "a virtual environment"
    if "conda-meta" in names:
        return "a conda environment"
    if RAY_SESSION.fullmatch(path.name) or {"logs", "sockets"} <= names:
        return "a Ray session directory"
    if "session_latest" in names or "ray_current_cluster" in names or any(RAY_SESSION.fullmatch(n) for n in names):
        return "a Ray temp directory"
    if DB_NAME in names or LOCK_NAME in names:
        return "a run directory"
    return None


def _matches(name: str, patterns: Iterable[str]) -> bool:
    low = name.lower()
    return any(fnmatch.fnmatchcase(low, p) for p in patterns)


def looks_secret(name: str) -> bool:
    """Whether a file name looks like it holds a secret (Python sources are code: never)."""
    return not name.endswith(".py") and _matches(name, SECRETS)


# --- .actsearchignore ---------------------------------------------------------------------------

def _glob_regex(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 2:]:
            end = pattern.index("]", i + 2)
            body = pattern[i + 1:end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body).replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            if pattern[i] == "\\" and i + 1 < len(pattern):
                i += 1
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)


class Ignore:
    """The rules of an ignore file (``.gitignore`` syntax); the last rule that matches decides."""

    def __init__(self, lines: Iterable[str], where: str = IGNORE_FILE) -> None:
        self.rules: list[tuple[re.Pattern[str], bool, bool]] = []
        for number, raw in enumerate(lines, 1):
            line = raw.rstrip("\n").rstrip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            line = line[1:] if negate else line
            line = line[1:] if line.startswith("\\") and line[1:2] in ("#", "!") else line
            dir_only = line.endswith("/")
            line = line.rstrip("/")
            if not line:
                continue
            anchored = "/" in line
            body = _glob_regex(line.lstrip("/"))
            try:
                rule = re.compile(body if anchored else "(?:.*/)?" + body)
            except re.error as err:
                raise ShipError(f"{where}, line {number}: cannot read the pattern {raw.strip()[:80]!r} ({err})") from None
            self.rules.append((rule, negate, dir_only))

    @classmethod
    def of(cls, root: Path) -> Ignore:
        """The rules of ``root/.actsearchignore`` (none when there is no such file)."""
        path = root / IGNORE_FILE
        if not path.is_file():
            return cls(())
        try:
            with open(path, "rb") as fh:
                text = fh.read(MAX_IGNORE_BYTES).decode(errors="replace")
        except OSError as err:
            raise ShipError(f"cannot read {path}: {err.strerror or err}") from None
        return cls(text.splitlines(), str(path))

    def __call__(self, rel: str, is_dir: bool) -> bool:
        hit = False
        for rule, negate, dir_only in self.rules:
            if (is_dir or not dir_only) and rule.fullmatch(rel):
                hit = not negate
        return hit


# --- the walk -----------------------------------------------------------------------------------

class _Walk:
    def __init__(self, package: Package, ignore: Ignore, skip: set[Path]) -> None:
        self.package, self.ignore, self.skip = package, ignore, skip
        self.real_root = package.root.resolve()
        self.seen: set[str] = {i.rel for i in package.items}
        self.entries = 0

    def add(self, rel: str, source: Path, size: int) -> None:
        if rel not in self.seen:
            self.seen.add(rel)
            self.package.items.append(Item(rel, source, size))

    def walk(self, top: Path) -> None:
        root, stack = self.package.root, [top]
        while stack:
            folder = stack.pop()
            try:
                with os.scandir(folder) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError:
                continue
            self.entries += len(entries)
            if self.entries > MAX_ENTRIES:
                raise ShipError(f"{root} holds more than {MAX_ENTRIES:,} files and directories to look through; "
                                f"ship only what the task needs with --ship FILE_OR_DIR, or list what to leave "
                                f"out in {root / IGNORE_FILE}")
            if folder != root and not_code(folder, {e.name for e in entries}):
                continue
            for entry in entries:
                self._entry(Path(entry.path), entry, stack)

    def _entry(self, path: Path, entry: os.DirEntry, stack: list[Path]) -> None:
        rel = path.relative_to(self.package.root).as_posix()
        try:
            if entry.is_symlink():
                if entry.is_dir():  # never followed: it may lead anywhere, or back up
                    return
                real = path.resolve()
                if self.real_root not in real.parents or not real.is_file():
                    return  # a link out of the root (or a dangling one)
                source, size, is_dir = real, real.stat().st_size, False
            elif entry.is_dir(follow_symlinks=False):
                source, size, is_dir = path, 0, True
            elif entry.is_file(follow_symlinks=False):
                source, size, is_dir = path, entry.stat(follow_symlinks=False).st_size, False
            else:  # sockets, pipes, devices
                return
        except OSError:
            return
        if self.ignore(rel, is_dir) or (is_dir and self.skip and path.resolve() in self.skip):
            return
        if is_dir:
            if entry.name not in NEVER_DIRS:
                stack.append(path)
        elif _matches(entry.name, NEVER_FILES):
            return
        elif looks_secret(entry.name):
            self.package.secrets.append(rel)
        else:
            self.add(rel, source, size)


def collect(root: Path, *, only: Sequence[Path] | None = None, always: Sequence[Path] = (),
            skip: Iterable[Path] = ()) -> Package:
    """The files to ship from the directory ``root``: all of it (``only`` None), or the files and
    directories in ``only`` (explicitly named: a named file travels whatever its name, a named
    directory is walked like the root); ``always`` (the task file) in any case; nothing under
    ``skip`` (the run directory)."""
    package = Package(root)
    walk = _Walk(package, Ignore.of(root), {p.resolve() for p in skip})
    for path in [*always, *(only or ())]:
        _explicit(walk, path)
    if only is None:
        walk.walk(root)
    package.items.sort(key=lambda i: i.rel)
    return package


def _explicit(walk: _Walk, path: Path) -> None:
    root = walk.package.root
    rel = path.relative_to(root)
    for up in [root / p for p in reversed(rel.parents) if p != Path(".")] + ([path] if path.is_dir() else []):
        try:
            names = set(os.listdir(up))
        except OSError as err:
            raise ShipError(f"cannot read {up}: {err.strerror or err}") from None
        why = not_code(up, names)
        if why:
            raise ShipError(f"--ship {path}: {up} is {why}, which is never shipped")
    if path.is_dir():
        walk.walk(path)
        return
    try:
        info = path.stat()
    except OSError as err:
        raise ShipError(f"--ship {path}: {err.strerror or err}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ShipError(f"--ship {path}: not a regular file or directory")
    walk.add(rel.as_posix(), path, info.st_size)


def check_size(packages: Sequence[Package]) -> None:
    """Refuse, in one line, packages over :data:`MAX_BYTES` or :data:`MAX_FILES` together, naming
    their largest entries (top-level files and directories of each root) and how to narrow them."""
    total = sum(p.size for p in packages)
    count = sum(len(p.items) for p in packages)
    if total <= MAX_BYTES and count <= MAX_FILES:
        return
    sizes: dict[str, int] = {}
    for p in packages:
        prefix = f"{p.root.name}/" if len(packages) > 1 else ""
        for item in p.items:
            head, sep, _ = item.rel.partition("/")
            key = prefix + head + sep
            sizes[key] = sizes.get(key, 0) + item.size
    largest = ", ".join(f"{k} {human(v)}" for k, v in sorted(sizes.items(), key=lambda kv: -kv[1])[:TOP])
    roots = " and ".join(str(p.root) for p in packages)
    over = (f"{human(total)}, over the {human(MAX_BYTES)} limit" if total > MAX_BYTES
            else f"{count:,} files, over the {MAX_FILES:,} files limit")
    raise ShipError(f"the task's code to ship to the cluster from {roots} is {over} (largest: {largest}); "
                    f"ship only what the task needs with --ship FILE_OR_DIR, or list what to leave out in "
                    f"{packages[0].root / IGNORE_FILE}")


# --- the staged copy ----------------------------------------------------------------------------

def _copy(item: Item, dest: Path) -> None:
    """Copy ``item`` to ``dest``: at most its counted bytes (a file that grew is refused)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(item.source, flags)
    with os.fdopen(fd, "rb") as src:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ShipError(f"{item.source} is no longer a regular file")
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(dest, "wb") as out:
            left = item.size
            while left > 0:
                chunk = src.read(min(left, MiB))
                if not chunk:
                    break
                out.write(chunk)
                left -= len(chunk)
            if src.read(1):
                raise ShipError(f"{item.source} grew while it was packaged for the cluster (counted "
                                f"{human(item.size)}); is something writing into the task's directory?")


@contextmanager
def stage(packages: Sequence[Package]) -> Iterator[list[Path]]:
    """Copy each package's files into a fresh temporary directory; yields the ``py_modules`` entries
    (in the order of ``packages``) and removes the copy on leaving, however it is left."""
    top = Path(tempfile.mkdtemp(prefix="actsearch-ship-"))
    try:
        entries = []
        for n, package in enumerate(packages):
            base = top / str(n) if package.single else top / str(n) / package.root.name
            for item in package.items:
                try:
                    _copy(item, base / item.rel)
                except OSError as err:
                    raise ShipError(f"cannot copy {item.source} for the cluster: {err.strerror or err}") from None
            entries.append(base / package.items[0].rel if package.single else base)
        yield entries
    finally:
        shutil.rmtree(top, ignore_errors=True)
