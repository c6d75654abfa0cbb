"""Connecting to Ray: an embedded local instance by default, or an existing cluster by address.

``start_ray(None, workers)`` starts Ray inside the process, sized to the workers, without
dashboard or usage reporting; ``start_ray("HOST:PORT", ...)`` (or ``$RAY_ADDRESS``) joins a
cluster started with ``ray start --head``. The address is probed with a short timeout first,
because ``ray.init`` on an address where nothing listens hangs for minutes. An embedded node that
cannot start (a full or unwritable temp dir, a start that times out) is a one-line
:class:`RayStartError`. An embedded node is recorded in the run directory (``ray-node.json``, this
user's only), so that processes a killed driver left behind are ended before the run resumes
(``clean_stale_node``); its processes carry a random token and the run directory's real path in
their environment, so a record copied into another directory names nothing there. Ray itself is
imported only when it is started.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import secrets
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG
from typing import Any

from actsearch.errors import UserError

# Quiet, fast defaults, set before Ray is imported (a user's own settings in the environment win).
QUIET_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_AIR_NEW_OUTPUT": "0",  # the legacy reporter prints nothing at verbose=0
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",  # no per-trial CSV/JSON/TensorBoard files
    "RAY_CHDIR_TO_TRIAL_DIR": "0",  # relative paths (table:FILE) keep working in trials
    "RAY_DEDUP_LOGS": "0",
}
NODE_FILE = "ray-node.json"  # in the run dir: the embedded Ray node, to clean up after a killed driver


def quiet_environment() -> None:
    """Apply ``QUIET_ENV`` where the environment does not set the variable already."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)


class AddressError(UserError):
    """A Ray address that is malformed or where nothing answers."""


def probe_address(address: str, timeout: float = 3.0) -> tuple[str, int]:
    """Check that something listens at ``HOST:PORT``; raise AddressError (one line) if not."""
    host, sep, port = address.rpartition(":")
    if address.startswith("ray://"):
        raise AddressError(f"Ray client addresses are not supported: {address!r}; use HOST:PORT of the head node")
    if not sep or not host or not port.isdigit():
        raise AddressError(f"Ray address must be HOST:PORT, got {address!r}")
    if not 1 <= int(port) <= 65535:
        raise AddressError(f"port {port} in {address!r} is out of range (1-65535)")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as conn:
            grpc = _speaks_http2(conn)
    except OSError as err:
        raise AddressError(f"no Ray head node answers at {address} ({err.strerror or err}); "
                           "start one with `ray start --head --port PORT`") from None
    if not grpc:
        raise AddressError(f"something listens at {address} but it is not a Ray head node (it does not "
                           "answer gRPC); check the port (`ray start --head` prints the address to use)")
    return host, int(port)


# A client's HTTP/2 connection preface followed by an empty SETTINGS frame (RFC 9113, 3.4 and 6.5).
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


def _speaks_http2(conn: socket.socket) -> bool:
    """Whether the listener answers an HTTP/2 preface with a SETTINGS frame, as the GCS's gRPC server
    does. A listener that is not Ray would make ``ray.init`` retry for many minutes (about 40 s a
    try). With TLS (``RAY_USE_TLS``) the handshake differs, so the check is skipped."""
    if os.environ.get("RAY_USE_TLS", "0").lower() in ("1", "true"):
        return True
    try:
        conn.sendall(HTTP2_PREFACE)
        head = conn.recv(9)
    except OSError:
        return False
    return len(head) >= 4 and head[3] == 4


@dataclass
class RayHandle:
    started: bool  # True when this process started Ray (and must shut it down)
    address: str | None
    cpus: float


def start_ray(address: str | None, workers: int, *, cpus_per_trial: float = 1.0, gpus_per_trial: float = 0.0,
              run_dir: str | os.PathLike | None = None, runtime_env: dict[str, Any] | None = None) -> RayHandle:
    """Join ``address`` (or ``$RAY_ADDRESS``) or start an embedded local Ray for ``workers`` trials.

    ``runtime_env`` (the task's code, :mod:`actsearch.search.runner.shipping`) goes with a joined
    cluster's job; an embedded Ray shares this filesystem and needs none."""
    quiet_environment()
    import ray

    address = address or os.environ.get("RAY_ADDRESS") or None
    if ray.is_initialized():
        return RayHandle(False, address, float(ray.cluster_resources().get("CPU", 0)))
    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR,
             "configure_logging": True}
    if address:
        if address != "auto":
            probe_address(address)
        try:  # Ray's authentication settings (RAY_AUTH_MODE, RAY_AUTH_TOKEN) come from the environment
            ray.init(address=address, runtime_env=runtime_env, **quiet)
        except Exception as err:  # noqa: BLE001 - e.g. AuthenticationError, ConnectionError
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise AddressError(f"cannot join the Ray cluster at {address}: {first}") from None
        return RayHandle(True, address, float(ray.cluster_resources().get("CPU", 0)))
    if run_dir is not None:
        clean_stale_node(run_dir)
    started, token = time.time(), secrets.token_hex(16)
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.pop("RAY_ADDRESS", None)
    cpus = max(1.0, workers * cpus_per_trial)
    # Inherited by every process the node starts, also those Ray spawns from this driver later
    # (agents, workers); removed again when the node stops (stop_ray).
    os.environ[TOKEN_VAR] = token
    if run_dir is not None:
        os.environ[RUN_DIR_VAR] = os.path.realpath(run_dir)
    else:
        os.environ.pop(RUN_DIR_VAR, None)
    try:
        ray.init(address="local", num_cpus=int(round(cpus)),
                 num_gpus=int(round(workers * gpus_per_trial)) if gpus_per_trial else None, **quiet)
    except BaseException as err:
        _forget_node()
        try:  # end what the failed start left running
            ray.shutdown()
        except Exception:  # noqa: BLE001, S110 - a node that never started has nothing to end
            pass
        if isinstance(err, Exception):
            raise RayStartError(start_failure(err, time.time() - started)) from None
        raise
    if run_dir is not None:
        _record_node(run_dir, started, token)
    return RayHandle(True, None, cpus)


def stop_ray(handle: RayHandle | None) -> None:
    """Shut down Ray if this process started or joined it."""
    import ray

    if handle is not None and handle.started and ray.is_initialized():
        ray.shutdown()
    if handle is not None and handle.started:
        _forget_node()


def _forget_node() -> None:
    """Take the node's marks out of this process's environment (later Ray nodes get their own)."""
    os.environ.pop(TOKEN_VAR, None)
    os.environ.pop(RUN_DIR_VAR, None)


class RayStartError(UserError):
    """The embedded Ray node did not start (a full or unwritable temp dir, a start that timed out)."""


def ray_temp_dir() -> str:
    """Where the embedded Ray writes its sessions, sockets and logs (``$RAY_TMPDIR``/ray by default)."""
    try:
        from ray._common.utils import get_default_ray_temp_dir

        return str(get_default_ray_temp_dir())
    except Exception:  # noqa: BLE001 - Ray's private helper moved: its documented default
        return os.path.join(os.environ.get("RAY_TMPDIR") or os.environ.get("TMPDIR") or "/tmp", "ray")


def start_failure(err: Exception, waited_s: float) -> str:
    """One line saying why ``ray.init`` could not start the embedded node, and what to do."""
    where = ray_temp_dir()
    if isinstance(err, OSError):
        what = (err.strerror or str(err) or type(err).__name__).lower()
        name = f" ({err.filename})" if err.filename else ""
        hint = "free some space there, or set RAY_TMPDIR to a directory with room" \
            if err.errno in (errno.ENOSPC, errno.EDQUOT) else "set RAY_TMPDIR to a writable directory"
        return f"cannot start Ray: {what}{name} in its temp dir {where}; {hint}"
    first = " ".join((str(err).strip().splitlines() or [type(err).__name__])[0].split())[:200]
    if isinstance(err, TimeoutError) or "timed out" in first.lower():
        return (f"Ray did not start within {waited_s:.1f} s ({first}); is its temp dir {where} full or "
                "slow, or the machine overloaded? RAY_TMPDIR chooses another temp dir")
    return f"cannot start Ray: {type(err).__name__}: {first}"


class ResourceError(UserError):
    """A trial asks for more CPUs or GPUs than the machine or the cluster has."""


def check_local_resources(cpus_per_trial: float, gpus_per_trial: float) -> None:
    """For the embedded Ray: a trial's CPUs within this machine's, GPUs only where torch sees them."""
    cpus = os.cpu_count() or 1
    if cpus_per_trial > cpus:
        raise ResourceError(f"--cpus-per-trial {cpus_per_trial:g} is more than this machine's {cpus} CPUs")
    if gpus_per_trial > 0:
        import torch

        have = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if gpus_per_trial > have:
            raise ResourceError(f"--gpus-per-trial {gpus_per_trial:g}: this machine has "
                                f"{'no GPU' if not have else f'{have} GPU(s)'} that torch can use")


def check_cluster_resources(cpus_per_trial: float, gpus_per_trial: float) -> None:
    """After joining: some live node of the cluster has a trial's CPUs and GPUs (Ray's own count)."""
    import ray

    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    for kind, want in (("CPU", cpus_per_trial), ("GPU", gpus_per_trial)):
        most = max((float(r.get(kind, 0)) for r in nodes), default=0.0)
        if want > most:
            raise ResourceError(f"--{kind.lower()}s-per-trial {want:g}: no node of the Ray cluster has that many "
                                f"{kind}s (the largest has {most:g})")


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


def _record_node(run_dir: str | os.PathLike, started: float, token: str) -> None:
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
