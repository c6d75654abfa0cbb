"""The ``actsearch`` command line: one typer app, commands grouped by the part they drive.

Commands live in :mod:`actsearch.commands` (one module per group, each with ``register(app)``);
this module only assembles them and turns every :class:`~actsearch.errors.UserError` into one
line on stderr with exit status 2. Heavy imports (torch, ray) happen inside the commands, so
``actsearch --help`` is fast.
"""

from __future__ import annotations

import sys

import typer

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


def main() -> None:
    """Console-script entry point: user errors become one line and exit status 2."""
    try:
        app()
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
