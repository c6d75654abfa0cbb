"""The ``actsearch`` command line: one typer app, commands grouped by the part they drive.

Commands live in :mod:`actsearch.commands` (one module per group, each with ``register(app)``);
this module only assembles them and turns every :class:`~actsearch.errors.UserError` into one
line on stderr with exit status 2. Heavy imports (torch, ray) happen inside the commands, so
``actsearch --help`` is fast.
"""

from __future__ import annotations

import os
import sys

# In a pipe or a file (no terminal), help is click's plain text: rich's boxed tables wrap option
# texts to ~20 characters at 80 columns there. The user's own TYPER_USE_RICH setting wins.
if not sys.stdout.isatty():
    os.environ.setdefault("TYPER_USE_RICH", "0")

import typer  # noqa: E402  (reads TYPER_USE_RICH when imported)

from actsearch.commands import register_all
from actsearch.errors import UserError

app = typer.Typer(
    name="actsearch",
    help="Search for neural-network activation functions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Search for neural-network activation functions."""


register_all(app)


@app.command()
def version() -> None:
    """Print the actsearch version."""
    from actsearch import __version__

    print(__version__)


def _base(cls: type, name: str) -> type:
    """click's exception class ``name`` (typer vendors click in newer versions, so it is found
    through typer's own ``BadParameter`` rather than imported)."""
    return next(c for c in cls.__mro__ if c.__name__ == name)


def main() -> None:
    """Console-script entry point: user errors (ours, and click's bad option values) become one
    line and exit status 2."""
    usage_error, click_error = (_base(typer.BadParameter, n) for n in ("UsageError", "ClickException"))
    try:
        code = app(standalone_mode=False)  # without standalone mode click returns typer.Exit's code
        sys.exit(code if isinstance(code, int) else 0)
    except typer.Exit as stop:  # --help, typer.Exit(130) ...
        sys.exit(stop.exit_code)
    except typer.Abort:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except usage_error as err:  # a bad value, a missing or unknown option
        message = err.format_message()
        if "\n" in message.strip():  # no arguments: click's help text
            print(message, file=sys.stderr)
        else:
            command = f" ({err.ctx.command_path})" if err.ctx is not None else ""
            print(f"error: {message}{command}; see --help", file=sys.stderr)
        sys.exit(2)
    except click_error as err:
        print(f"error: {err.format_message()}", file=sys.stderr)
        sys.exit(err.exit_code)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
