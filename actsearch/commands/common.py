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
    from actsearch.settings import parse_assignments

    return parse_assignments(items, "--param", numbers=True)


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
    """Turn ``["temperature=0", "population_size=10"]`` into typed searcher options."""
    from actsearch.settings import parse_assignments

    return parse_assignments(items, "--option")


TOP_HELP = "{} (0 = all)"


def top_limit(top: int) -> int | None:
    """``--top N`` everywhere: N rows / functions / candidates, 0 for all of them (None)."""
    return top or None
