"""Connecting to Ray: an embedded local instance by default, or an existing cluster by address.

``start_ray(None, workers)`` starts Ray inside the process, sized to the workers, without
dashboard or usage reporting; ``start_ray("HOST:PORT", ...)`` (or ``$RAY_ADDRESS``) joins a
cluster started with ``ray start --head``. The address is probed with a short timeout first,
because ``ray.init`` on an address where nothing listens hangs for minutes. An embedded node is
recorded in the run directory, so that processes a killed driver left behind are ended before
the run resumes (``clean_stale_node``). Ray itself is imported only when it is started.
"""

from __future__ import annotations

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
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as err:
        raise AddressError(f"no Ray head node answers at {address} ({err.strerror or err}); "
                           "start one with `ray start --head --port PORT`") from None
    return host, int(port)


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
    try:
        ray.init(address="local", num_cpus=int(round(cpus)),
                 num_gpus=int(round(workers * gpus_per_trial)) if gpus_per_trial else None, **quiet)
    except BaseException:
        os.environ.pop(TOKEN_VAR, None)
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
        os.environ.pop(TOKEN_VAR, None)


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
    Path(run_dir, NODE_FILE).write_text(json.dumps(info))


def read_node_record(path: Path) -> NodeRecord:
    """The checked record, or ValueError saying which check failed."""
    info = json.loads(path.read_text())
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
    user's, started no earlier than the node, carries the node's random token in its environment
    (set by :func:`start_ray` before the node started, so no file can name a process it did not
    start), and either names the session directory on its command line (the node's own processes
    and agents) or is a ``ray::`` worker spawned by the node's raylet or holding files in the session
    directory. Returns the pids killed.
    """
    path = Path(run_dir, NODE_FILE)
    if not path.is_file():
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
    killed = []
    for pid in _pids():
        if pid == os.getpid() or not _owned(pid):
            continue
        begun = _start_time(pid, boot)
        if begun is None or begun < rec.started - START_SLACK_S:
            continue
        if f"{TOKEN_VAR}={rec.token}" not in _read(f"/proc/{pid}/environ").split("\0"):
            continue
        args = _read(f"/proc/{pid}/cmdline").split("\0")
        if args[0].startswith("ray::"):  # a worker or agent: spawned by the node's raylet, or logging into it
            env = _read(f"/proc/{pid}/environ").split("\0")
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
