"""Importing a user's task code under guard: a deadline, and no exit or interrupt of its own.

A user's task file or module is code the user chose to run, imported in the driver (and in each
worker). :func:`guarded_import` bounds that import: a module that does not finish within the run's
time limit (:func:`import_time_limit`; :data:`IMPORT_TIME_LIMIT_S` when none is given), or that
calls ``sys.exit`` or raises ``KeyboardInterrupt`` while it is imported, becomes a one-line
:class:`ImportRefused` (a :class:`~actsearch.evaluators.task.TaskError`); a real Ctrl-C of the
user still interrupts. The deadline needs signals, so it holds on the main thread only.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from actsearch.evaluators.task import TaskError, exit_call

# Seconds a user's task file or module may take to import when no time limit is given (a module
# that loads data at import may take a while; one that never returns must not hang the run).
IMPORT_TIME_LIMIT_S = 300.0
_import_limit: list[float | None] = [None]  # set by import_time_limit (the run's --time-limit)


@contextmanager
def import_time_limit(seconds: float | None) -> Iterator[None]:
    """Within the block, a user's task file or module must finish importing within ``seconds``
    (the run's ``--time-limit``; None: ``IMPORT_TIME_LIMIT_S``)."""
    before = _import_limit[0]
    _import_limit[0] = seconds
    try:
        yield
    finally:
        _import_limit[0] = before


class ImportRefused(TaskError):
    """A user's module that hung, exited or raised ``KeyboardInterrupt`` while being imported."""


class _ImportTimeout(BaseException):
    """Raised into a module's import when its deadline passes (a BaseException: the module's own
    ``except Exception`` does not swallow it)."""


@contextmanager
def guarded_import(what: str) -> Iterator[None]:
    """Run an import of user code under a deadline, with its ``sys.exit`` / ``KeyboardInterrupt``
    made one-line :class:`TaskError` s. The deadline needs signals, so it holds only on the main
    thread (elsewhere, e.g. in a Ray worker's trainable thread, the import runs unbounded). A real
    Ctrl-C (SIGINT, noticed by a handler set for the import) still interrupts; a
    ``KeyboardInterrupt`` the module raises itself is the module's failure."""
    limit = max(1e-3, _import_limit[0] if _import_limit[0] is not None else IMPORT_TIME_LIMIT_S)
    main = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
    interrupted, outer_due = [False], [False]
    if main:
        start = time.monotonic()
        outer, outer_every = signal.getitimer(signal.ITIMER_REAL)  # e.g. a test runner's own timeout
        outer_due[0] = outer > 0
        old_alarm, old_int = signal.getsignal(signal.SIGALRM), signal.getsignal(signal.SIGINT)

        def alarm(signum: int, frame: Any) -> None:
            spent = time.monotonic() - start
            if spent >= limit - 1e-3:
                raise _ImportTimeout
            outer_due[0] = False  # the outer timer came first: its handler runs as it would have
            signal.setitimer(signal.ITIMER_REAL, max(1e-3, limit - spent))
            if callable(old_alarm):
                old_alarm(signum, frame)

        def interrupt(signum: int, frame: Any) -> None:
            interrupted[0] = True
            old_int(signum, frame)  # Python's own handler raises KeyboardInterrupt

        signal.signal(signal.SIGALRM, alarm)
        if callable(old_int):
            signal.signal(signal.SIGINT, interrupt)
        signal.setitimer(signal.ITIMER_REAL, min(limit, outer) if outer > 0 else limit)
    try:
        yield
    except _ImportTimeout:
        raise ImportRefused(f"{what} did not finish importing within {limit:g} s") from None
    except SystemExit as err:
        raise ImportRefused(f"{what} called {exit_call(err)} at import") from None
    except KeyboardInterrupt:
        if interrupted[0]:  # the user's Ctrl-C (a signal reaches only the main thread)
            raise
        raise ImportRefused(f"{what} raised KeyboardInterrupt at import") from None
    finally:
        if main:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old_alarm)
            if callable(old_int):
                signal.signal(signal.SIGINT, old_int)
            if outer_due[0]:  # re-arm the outer timer with what is left of it
                signal.setitimer(signal.ITIMER_REAL, max(1e-3, outer - (time.monotonic() - start)), outer_every)
