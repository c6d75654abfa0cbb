"""Stored text made safe to show: the one rule for every string a run store holds.

A run store is data, and any of its strings (an expression, a task name, a status, a trial's error
message or traceback) may hold control characters: an ESC that starts a terminal escape sequence
(a window title, the clipboard through OSC 52, a cleared screen), a BEL, a C1 control, a Unicode
direction override. :func:`visible` replaces every character that ``str.isprintable`` rejects with
its Python escape (``\\x1b``, ``\\u202e``), so what a terminal, a CSV, a Markdown or HTML file, a
figure or a generated module shows is exactly the stored text, never an instruction to the viewer.
Newlines may be kept where a field is shown line by line. :func:`clip` bounds how much of one
stored string is shown (the store keeps all of it): a 20 MB error message or a 1 MB expression
renders as its first characters and a count of the rest, in time linear in what is shown.
"""

from __future__ import annotations

from typing import Any

SHOWN_CHARS = 2_000  # longest stored text `show` prints in one field; the rest is counted, not shown
CELL_CHARS = 200  # longest cell of a leaderboard table (terminal, Markdown, HTML)
ERROR_CELL_CHARS = 80  # longest error message in a leaderboard table (`show` prints more)
NAME_CHARS = 60  # longest stored text quoted inside a message or a figure's legend


def _escape(ch: str) -> str:
    return ch.encode("unicode_escape").decode("ascii")


def visible(value: Any, *, newlines: bool = False) -> str:
    """``value`` as text whose every character is printable: control and other non-printable
    characters (C0 and C1 controls, ESC, DEL, bidirectional overrides ...) become their Python
    escapes (``\\x1b``); ``newlines=True`` keeps ``\\n`` as it is."""
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():  # the usual case, checked at C speed
        return text
    if newlines:
        return "\n".join(visible(line) for line in text.split("\n"))
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def clip(value: Any, limit: int) -> str:
    """At most ``limit`` characters of ``value``, then ``… (N more characters)`` when it is longer."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"


def shown(value: Any, limit: int = SHOWN_CHARS, *, newlines: bool = False) -> str:
    """:func:`clip` then :func:`visible`: a stored string as a terminal or a file may show it."""
    return visible(clip(value, limit), newlines=newlines)


def quoted(value: Any, limit: int = NAME_CHARS) -> str:
    """A stored string quoted inside a one-line message: ``'sin(x)'``, clipped and escaped."""
    return repr(clip(value, limit))
