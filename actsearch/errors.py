"""The one base class for mistakes a user can make (bad text, unknown name, missing file ...).

Every module raises a subclass of :class:`UserError` for input the user controls; the CLI turns
any ``UserError`` into one line on stderr and exit status 2, never a traceback. Programming
errors stay ordinary exceptions.
"""

from __future__ import annotations


class UserError(ValueError):
    """A problem with the user's input; its message is one self-contained line."""


SHORT_TEXT = 80  # characters of user text echoed in an error line


def shorten(text: object, n: int = SHORT_TEXT) -> str:
    """``text`` cut to at most ``n`` characters (the last one "…" when cut), for echoing user input
    in an error line without flooding the terminal."""
    text = str(text)
    return text if len(text) <= n else text[: max(n - 1, 0)] + "…"
