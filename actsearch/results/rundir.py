"""The files actsearch writes in a run directory are written there, never through a symbolic link.

A run directory is data that anyone may have prepared or copied: a ``run.sqlite``, its ``-wal`` /
``-shm`` companions, ``space.toml`` or ``.writer.lock`` that is a symbolic link would make a search
write (create, truncate, overwrite) whatever file the link names. Every file actsearch writes in a
run directory is therefore checked or opened here, in one place: :func:`refuse_links` checks names
with ``lstat`` (a dangling link counts), :func:`open_regular` opens with ``O_NOFOLLOW`` and accepts
only a regular file, :func:`copy_into` and :func:`write_atomic` write through it. A link is refused
in one line, ``RUN_DIR/NAME is a symbolic link; refusing to write through it``; nothing is written.
The run directory itself may be a link (the user named it).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from pathlib import Path

from actsearch.results import records as R
from actsearch.results.base import RunStoreError

# The store's own files: SQLite creates the companions next to the database (readers too: -shm).
STORE_FILES = (R.DB_NAME, R.DB_NAME + "-wal", R.DB_NAME + "-shm", R.DB_NAME + "-journal")
WRITER_FILES = (*STORE_FILES, R.LOCK_NAME)  # what the store's writer creates or writes


class RunDirLinkError(RunStoreError):
    """A file actsearch would write in a run directory is a symbolic link (or not a regular file)."""


def _link_error(path: Path) -> RunDirLinkError:
    return RunDirLinkError(f"{path} is a symbolic link; refusing to write through it")


def refuse_links(run_dir: str | os.PathLike, names: tuple[str, ...] = WRITER_FILES) -> None:
    """Refuse when one of the files ``names`` in ``run_dir`` is a symbolic link (a dangling one too)."""
    for name in names:
        path = Path(run_dir, name)
        if path.is_symlink():
            raise _link_error(path)


def open_regular(path: str | os.PathLike, flags: int, mode: int = 0o644) -> int:
    """``os.open`` that never follows a symbolic link and accepts only a regular file (a FIFO or a
    device is refused without blocking on it); returns the descriptor."""
    path = Path(path)
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, mode)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise _link_error(path) from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise RunDirLinkError(f"{path} is not a regular file; refusing to write to it")
    os.set_blocking(fd, True)
    return fd


def open_lock(path: str | os.PathLike) -> object:
    """The writer lock file (created if missing), as a binary file object to ``flock``."""
    return os.fdopen(open_regular(path, os.O_RDWR | os.O_CREAT), "rb+", buffering=0)


def copy_into(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Copy the file ``src`` to ``dst`` in a run directory (``dst`` replaced only if it is a regular file)."""
    fd = open_regular(dst, os.O_WRONLY | os.O_CREAT)
    with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
        out.truncate(0)
        shutil.copyfileobj(inp, out)


def write_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (a reader never sees half a file): a fresh temporary
    file next to it, created exclusively (never through a link), then renamed over ``path`` (a
    rename replaces a link at ``path`` itself, never its target)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)  # a leftover of a process with the same id (unlink never follows a link)
    fd = open_regular(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path
