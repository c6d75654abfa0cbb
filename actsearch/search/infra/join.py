"""Joining an existing Ray cluster: one short attempt, Ray's own messages kept off the terminal,
and a refused authentication named as such.

Ray's driver retries a cluster it cannot talk to for about 20 s and its C++ core prints a warning
line for each try (``InvalidAuthToken: Authentication token is missing or incorrect`` when the
cluster uses token authentication and this process has no token or another one), then fails with
"Failed to connect", which does not mention authentication. :func:`join` caps the retries
(``RAY_gcs_server_port_wait_time_s``, unless the user set it: the address was already probed, so
a gRPC server is known to listen there), sends what Ray writes to standard error during
``ray.init`` to a temporary file, and on failure turns it into one line: for a refused token, what
this process's token settings are and where Ray looks for the token.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

JOIN_WAIT_S = "3"  # seconds the driver waits for the cluster's GCS (Ray's default: 20 tries of 1 s)
CAPTURE_LIMIT = 64 * 1024  # what is kept of Ray's messages during the join (the last bytes)
AUTH_SIGNS = ("InvalidAuthToken", "Unauthenticated", "UNAUTHENTICATED", "AuthenticationError")
DEFAULT_TOKEN_FILE = "~/.ray/auth_token"


@contextlib.contextmanager
def _stderr_to(path: Path) -> Iterator[None]:
    """Send file descriptor 2 (Python's and the C++ core's writes alike) to ``path`` meanwhile."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(path, "wb") as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def _tail(path: Path) -> str:
    with open(path, "rb") as f:
        f.seek(max(0, os.path.getsize(path) - CAPTURE_LIMIT))
        return f.read().decode("utf-8", "replace")


def auth_hint() -> str:
    """This process's token settings, and what to set, in a few words."""
    mode = os.environ.get("RAY_AUTH_MODE", "")
    if mode != "token":
        return (f"RAY_AUTH_MODE is {mode or 'not set'} here: export RAY_AUTH_MODE=token and the head's token "
                f"(RAY_AUTH_TOKEN, a file named by RAY_AUTH_TOKEN_PATH, or {DEFAULT_TOKEN_FILE})")
    if os.environ.get("RAY_AUTH_TOKEN"):
        source = "RAY_AUTH_TOKEN"
    elif os.environ.get("RAY_AUTH_TOKEN_PATH"):
        source = f"the file in RAY_AUTH_TOKEN_PATH ({os.environ['RAY_AUTH_TOKEN_PATH']})"
    elif Path(DEFAULT_TOKEN_FILE).expanduser().is_file():
        source = DEFAULT_TOKEN_FILE
    else:
        return (f"RAY_AUTH_MODE=token but no token here: set RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or copy the "
                f"head's {DEFAULT_TOKEN_FILE}")
    return f"the token from {source} is not the cluster's (`ray get-auth-token` on the head prints it)"


def join(address: str, runtime_env: dict[str, Any] | None, options: dict[str, Any]) -> str | None:
    """``ray.init(address=...)``; None when joined, else the reason in one line (authentication named)."""
    import ray

    wait_set = "RAY_gcs_server_port_wait_time_s" in os.environ
    if not wait_set:
        os.environ["RAY_gcs_server_port_wait_time_s"] = JOIN_WAIT_S
    fd, name = tempfile.mkstemp(prefix="actsearch-join-", suffix=".log")
    os.close(fd)
    path = Path(name)
    try:
        try:
            with _stderr_to(path):
                ray.init(address=address, runtime_env=runtime_env, **options)
        except Exception as err:  # noqa: BLE001 - e.g. AuthenticationError, ConnectionError
            said = _tail(path) + "\n" + str(err)
            if any(sign in said for sign in AUTH_SIGNS):
                return f"the cluster refused this process's authentication token: {auth_hint()}"
            return (str(err).strip().splitlines() or [type(err).__name__])[0]
        kept = _tail(path)
        if kept.strip():  # what Ray said while joining, shown after all
            sys.stderr.write(kept)
        return None
    finally:
        path.unlink(missing_ok=True)
        if not wait_set:
            os.environ.pop("RAY_gcs_server_port_wait_time_s", None)
