"""``NAME=VALUE`` settings: the one parser behind ``--set`` (task settings), ``--option`` (searcher
options) and ``--param`` (initial constants), and behind old task labels ``name[k=v]``.

A value is typed where its text is one — ``true``/``false`` → bool, then int, then float — else
kept as text (a task coerces text to its field's type, see ``actsearch.evaluators.get_task``).
This module sits on the ground floor with :mod:`actsearch.errors`: every floor may use it.
"""

from __future__ import annotations

from typing import Any

from actsearch.errors import UserError


def parse_value(text: str) -> Any:
    """``"3"`` → 3, ``"0.5"`` → 0.5, ``"true"`` → True, anything else stays text."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_assignments(items: list[str] | None, flag: str, *, numbers: bool = False) -> dict[str, Any]:
    """``["a=1", "b=x"]`` → ``{"a": 1, "b": "x"}``; a bad item is a one-line UserError naming ``flag``.

    ``numbers=True`` (``--param``): every value must be a number (returned as float)."""
    out: dict[str, Any] = {}
    for item in items or []:
        name, sep, text = item.partition("=")
        name, text = name.strip(), text.strip()
        if not sep or not name.isidentifier():
            raise UserError(f"{flag} expects NAME={'NUMBER' if numbers else 'VALUE'}, got {item!r}")
        if numbers:
            try:
                out[name] = float(text)
            except ValueError:
                raise UserError(f"{flag} expects NAME=NUMBER, got {item!r}") from None
        else:
            out[name] = parse_value(text)
    return out
