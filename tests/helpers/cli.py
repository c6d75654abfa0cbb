"""Run the real console entry point in-process, as a user would from a shell."""

from __future__ import annotations

import contextlib
import io
import sys
import traceback


def run_cli(*args: str) -> tuple[int | str, str, str]:
    """``(exit status, stdout, stderr)``; the status is ``"traceback"`` when an exception escaped
    ``actsearch.cli.main`` (which turns user errors into one line and exit 2)."""
    from actsearch.cli import main

    out, err = io.StringIO(), io.StringIO()
    old = sys.argv
    sys.argv = ["actsearch", *args]
    code: int | str = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except Exception:  # noqa: BLE001 - what a user would see as a traceback
        return "traceback", out.getvalue(), traceback.format_exc()
    finally:
        sys.argv = old
    return code, out.getvalue(), err.getvalue()


def error_lines(err: str) -> list[str]:
    """The ``error:`` lines of stderr (warnings and progress are other lines)."""
    return [line for line in err.splitlines() if line.startswith("error:")]
