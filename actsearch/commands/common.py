"""Helpers shared by the command groups: JSON output and parameter options."""

from __future__ import annotations

import json
import sys
from typing import Any

from actsearch.errors import UserError


def print_json(obj: Any) -> None:
    """Write ``obj`` as JSON on stdout (NaN/inf become null)."""
    sys.stdout.write(json.dumps(_finite(obj), indent=2, default=str) + "\n")


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and (obj != obj or obj in (float("inf"), float("-inf"))):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def parse_params(items: list[str] | None) -> dict[str, float]:
    """Turn ``["beta=1.5", "alpha=0.25"]`` into ``{"beta": 1.5, "alpha": 0.25}``."""
    out: dict[str, float] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            out[name.strip()] = float(value)
        except ValueError:
            raise UserError(f"--param expects NAME=NUMBER, got {item!r}") from None
    return out


def check_params_known(expression: str, params: dict[str, float]) -> None:
    """Refuse ``--param NAME=...`` for a constant that ``expression`` (text or library name) lacks,
    instead of silently ignoring it."""
    from actsearch.grammar import library, parse

    name = expression.strip()
    known = library.defaults(name) if name in library.NAMES else parse(expression).params
    unknown = [p for p in params if p not in known]
    if unknown:
        have = ", ".join(known) or "none"
        raise UserError(f"--param {unknown[0]}: {expression!r} has no constant {unknown[0]!r} (its constants: {have})")


def parse_options(items: list[str] | None) -> dict[str, Any]:
    """Turn ``["temperature=0", "population_size=10", "prescreen=false"]`` into typed options:
    int, float or bool where the text is one, else the text."""
    out: dict[str, Any] = {}
    for item in items or []:
        name, sep, text = item.partition("=")
        name, text = name.strip(), text.strip()
        if not sep or not name.isidentifier():
            raise UserError(f"--option expects NAME=VALUE, got {item!r}")
        value: Any = text
        if text.lower() in ("true", "false"):
            value = text.lower() == "true"
        else:
            for kind in (int, float):
                try:
                    value = kind(text)
                    break
                except ValueError:
                    pass
        out[name] = value
    return out
