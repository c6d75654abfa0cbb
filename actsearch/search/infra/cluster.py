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
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass
from typing import Any

from actsearch.errors import UserError
from actsearch.search.infra.join import join
from actsearch.search.infra.node import RUN_DIR_VAR, TOKEN_VAR, clean_stale_node, record_node

# Quiet, fast defaults, set before Ray is imported (a user's own settings in the environment win).
QUIET_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_AIR_NEW_OUTPUT": "0",  # the legacy reporter prints nothing at verbose=0
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",  # no per-trial CSV/JSON/TensorBoard files
    "RAY_CHDIR_TO_TRIAL_DIR": "0",  # relative paths (table:FILE) keep working in trials
    "RAY_DEDUP_LOGS": "0",
}


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

    ``runtime_env`` (the task's code, :mod:`actsearch.search.infra.shipping`) goes with a joined
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
        # Ray's authentication settings (RAY_AUTH_MODE, RAY_AUTH_TOKEN ...) come from the environment
        failure = join(address, runtime_env, quiet)
        if failure is not None:
            raise AddressError(f"cannot join the Ray cluster at {address}: {failure}")
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
        record_node(run_dir, started, token)
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
