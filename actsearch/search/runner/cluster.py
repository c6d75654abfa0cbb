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
import signal
import socket
from dataclasses import dataclass
from pathlib import Path

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
              run_dir: str | os.PathLike | None = None) -> RayHandle:
    """Join ``address`` (or ``$RAY_ADDRESS``) or start an embedded local Ray for ``workers`` trials."""
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
            ray.init(address=address, **quiet)
        except Exception as err:  # noqa: BLE001 - e.g. AuthenticationError, ConnectionError
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise AddressError(f"cannot join the Ray cluster at {address}: {first}") from None
        return RayHandle(True, address, float(ray.cluster_resources().get("CPU", 0)))
    if run_dir is not None:
        clean_stale_node(run_dir)
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.pop("RAY_ADDRESS", None)
    cpus = max(1.0, workers * cpus_per_trial)
    ray.init(address="local", num_cpus=int(round(cpus)), num_gpus=int(round(workers * gpus_per_trial)) if gpus_per_trial else None,
             **quiet)
    if run_dir is not None:
        _record_node(run_dir)
    return RayHandle(True, None, cpus)


def stop_ray(handle: RayHandle | None) -> None:
    """Shut down Ray if this process started or joined it."""
    import ray

    if handle is not None and handle.started and ray.is_initialized():
        ray.shutdown()


def _record_node(run_dir: str | os.PathLike) -> None:
    import ray

    node = ray._private.worker._global_node
    if node is None:
        return
    pids = [p.process.pid for procs in node.all_processes.values() for p in procs]
    raylet = [p.process.pid for p in node.all_processes.get("raylet", [])]
    info = {"session_dir": node.get_session_dir_path(), "pids": pids, "raylet": raylet, "driver": os.getpid()}
    Path(run_dir, NODE_FILE).write_text(json.dumps(info))


def clean_stale_node(run_dir: str | os.PathLike) -> list[int]:
    """Kill what an embedded Ray of a dead driver of this run left behind (agents, workers).

    Only processes that belong to the recorded node are touched: its own processes (checked by
    the session directory on their command line), and ``ray::`` processes whose environment names
    its raylet or which hold files of its session directory open (their logs). Returns the pids
    killed.
    """
    path = Path(run_dir, NODE_FILE)
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    if _alive(info.get("driver", -1)):
        return []  # that driver still runs (the store's writer lock refuses it anyway)
    raylets = {str(p) for p in info.get("raylet", [])}
    killed = []
    for pid in _pids():
        cmd = _read(f"/proc/{pid}/cmdline")
        mine = pid in info.get("pids", []) and info.get("session_dir", "\0") in cmd
        if not mine and cmd.startswith("ray::"):
            env = _read(f"/proc/{pid}/environ").split("\0")
            mine = any(e.startswith("RAY_RAYLET_PID=") and e.split("=", 1)[1] in raylets for e in env)
            mine = mine or _holds_files_in(pid, info.get("session_dir"))
        if mine:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except OSError:
                pass
    path.unlink(missing_ok=True)
    return killed


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
