"""The record of an embedded Ray node in its run directory, and the clean-up after a killed driver.

``start_ray`` (:mod:`actsearch.search.infra.cluster`) writes ``RUN_DIR/ray-node.json`` (this user's
only, never through a link) after the node started; before the run resumes, :func:`clean_stale_node`
ends what a dead driver's node left behind (agents, workers). The record is data, not authority:
a process is killed only when it proves that it belongs to the node this very run directory
started — it carries the random token and the run directory's real path that the driver put in
the node's environment, so a record copied into another directory names no process there.
"""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG

NODE_FILE = "ray-node.json"  # in the run dir: the embedded Ray node, to clean up after a killed driver

# The run directory's record of an embedded node is data, not authority: clean_stale_node kills a
# process only when every check below proves that it belongs to that node.
SESSION_NAME = re.compile(r"session_\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}_\d+_\d+")
TOKEN_VAR = "ACTSEARCH_RAY_NODE"  # a random token in the environment of every process of our node
RUN_DIR_VAR = "ACTSEARCH_RAY_RUN_DIR"  # beside it: the real path of the run directory that started the node
RECORD_BYTES = 1 << 20  # a node record is a few hundred bytes; a larger file is not one
TOKEN = re.compile(r"[0-9a-f]{32}")
START_SLACK_S = 2.0  # a process of the node started at most this long before its recorded start (clock ticks)


@dataclass(frozen=True)
class NodeRecord:
    """What ``ray-node.json`` holds, checked: an embedded node's session, processes and start time."""

    session_dir: str  # absolute, real, of Ray's layout (session_DATE_TIME_USEC_PID with logs/ and sockets/)
    token: str  # the random TOKEN_VAR value the node's processes inherited (unknowable to a crafted file)
    pids: tuple[int, ...]  # the node's own processes (raylet, GCS, agents, ...)
    raylets: tuple[int, ...]
    driver: int  # the driver that started it
    started: float  # epoch seconds just before ray.init


def record_node(run_dir: str | os.PathLike, started: float, token: str) -> None:
    import ray

    node = ray._private.worker._global_node
    if node is None:
        return
    pids = [p.process.pid for procs in node.all_processes.values() for p in procs]
    raylet = [p.process.pid for p in node.all_processes.get("raylet", [])]
    info = {"session_dir": node.get_session_dir_path(), "token": token, "pids": pids, "raylet": raylet,
            "driver": os.getpid(), "started": started}
    # This user's only (the token is in it), and never through a symlink planted in the run dir.
    fd = os.open(Path(run_dir, NODE_FILE), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as fh:
        os.fchmod(fd, 0o600)  # a file that was there keeps its mode otherwise
        fh.write(json.dumps(info))


def read_node_record(path: Path) -> NodeRecord:
    """The checked record, or ValueError saying which check failed (a symlink, another user's file
    and one that is not a small regular file are refused before they are read)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise ValueError("it is a symlink") from None
        raise
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if not S_ISREG(st.st_mode):
            raise ValueError("not a regular file")
        if st.st_uid != os.getuid():
            raise ValueError("the file belongs to another user")
        raw = fh.read(RECORD_BYTES + 1)
    if len(raw) > RECORD_BYTES:
        raise ValueError("too large for a node record")
    info = json.loads(raw.decode(errors="replace"))
    if not isinstance(info, dict):
        raise ValueError("not a JSON object")
    sd = info.get("session_dir")
    if not isinstance(sd, str) or not sd or not os.path.isabs(sd) or os.path.realpath(sd) != sd.rstrip("/"):
        raise ValueError("session_dir is not an absolute, real path")
    if not SESSION_NAME.fullmatch(os.path.basename(sd)) or not all(
            os.path.isdir(os.path.join(sd, d)) for d in ("logs", "sockets")):
        raise ValueError(f"session_dir {sd!r} is not a Ray session directory")
    token = info.get("token")
    if not isinstance(token, str) or not TOKEN.fullmatch(token):
        raise ValueError("token is missing or malformed")

    def pid_list(key: str) -> tuple[int, ...]:
        value = info.get(key)
        if not isinstance(value, list) or not all(isinstance(p, int) and not isinstance(p, bool) and p > 1
                                                  for p in value):
            raise ValueError(f"{key} is not a list of process ids")
        return tuple(value)

    driver, started = info.get("driver"), info.get("started")
    if not isinstance(driver, int) or isinstance(driver, bool) or driver <= 1:
        raise ValueError("driver is not a process id")
    if not isinstance(started, (int, float)) or isinstance(started, bool) or not 0 < started < time.time() + 60:
        raise ValueError("started is not a time")
    return NodeRecord(sd.rstrip("/"), token, pid_list("pids"), pid_list("raylet"), driver, float(started))


def clean_stale_node(run_dir: str | os.PathLike, note: Callable[[str], None] | None = None) -> list[int]:
    """Kill what an embedded Ray of a dead driver of this run left behind (agents, workers).

    The record is checked first (:func:`read_node_record`); a record that fails a check is ignored
    and ``note`` (default: stderr) says so in one line. A process is killed only when it is this
    user's, started no earlier than the node, carries in its environment the node's random token
    and this run directory's real path (both set by :func:`start_ray` before the node started: a
    record copied from another run directory, token and all, names no process here), and either
    names the session directory on its command line (the node's own processes and agents) or is a
    ``ray::`` worker spawned by the node's raylet or holding files in the session directory.
    Returns the pids killed.
    """
    path = Path(run_dir, NODE_FILE)
    if not os.path.lexists(path):
        return []
    say = note or (lambda line: print(line, file=sys.stderr))
    try:
        rec = read_node_record(path)
    except (OSError, ValueError, RecursionError) as err:
        say(f"warning: ignoring {path}: {err}")
        return []
    if _alive(rec.driver):
        return []  # that driver still runs (the store's writer lock refuses it anyway)
    boot = _boot_time()
    marks = {f"{TOKEN_VAR}={rec.token}", f"{RUN_DIR_VAR}={os.path.realpath(run_dir)}"}
    killed = []
    for pid in _pids():
        if pid == os.getpid() or not _owned(pid):
            continue
        begun = _start_time(pid, boot)
        if begun is None or begun < rec.started - START_SLACK_S:
            continue
        env = _read(f"/proc/{pid}/environ").split("\0")
        if not marks <= set(env):  # not started by a node of this run directory
            continue
        args = _read(f"/proc/{pid}/cmdline").split("\0")
        if args[0].startswith("ray::"):  # a worker or agent: spawned by the node's raylet, or logging into it
            mine = any(f"RAY_RAYLET_PID={r}" in env for r in rec.raylets) or _holds_files_in(pid, rec.session_dir)
        else:  # a node process (recorded, or an agent started later) naming the session on its command line
            mine = _names(args, rec.session_dir)
        if mine:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except OSError:
                pass
    path.unlink(missing_ok=True)
    return killed


def _names(args: list[str], session_dir: str) -> bool:
    """An argument ``--flag=VALUE`` whose VALUE is the session directory or a path inside it."""
    prefix = session_dir + "/"
    return any(v == session_dir or v.startswith(prefix) for a in args for v in (a.partition("=")[2],) if v)


def _owned(pid: int) -> bool:
    try:
        return os.stat(f"/proc/{pid}").st_uid == os.getuid()
    except OSError:
        return False


def _boot_time() -> float:
    for line in _read("/proc/stat").splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    return 0.0


def _start_time(pid: int, boot: float) -> float | None:
    """When the process started, in epoch seconds (from /proc/PID/stat), or None."""
    stat = _read(f"/proc/{pid}/stat")
    try:
        fields = stat[stat.rindex(")") + 2:].split()
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (ValueError, IndexError):
        return None


def _holds_files_in(pid: int, directory: str | None) -> bool:
    if not directory:
        return False
    prefix = directory.rstrip("/") + "/"
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith(prefix):
                return True
        except OSError:
            continue
    return False


def _pids() -> list[int]:
    try:
        return [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return []


def _read(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            return fh.read().decode(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    stat = _read(f"/proc/{pid}/stat")
    return ") Z" not in stat  # a zombie is dead
