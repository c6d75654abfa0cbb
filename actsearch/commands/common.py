"""Helpers shared by the command groups: JSON output and parameter options."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from actsearch.errors import UserError
from actsearch.evaluators.catalog import task_help


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
    from actsearch.evaluators.settings import parse_assignments

    return parse_assignments(items, "--param", numbers=True)


def check_params_known(expression: str, params: dict[str, float]) -> None:
    """Refuse ``--param NAME=...`` for a constant that ``expression`` (text or library name) lacks,
    instead of silently ignoring it."""
    from actsearch.grammar import library

    known = library.defaults(expression.strip()) if library.module_only(expression) else library.resolve(expression).params
    unknown = [p for p in params if p not in known]
    if unknown:
        from actsearch.errors import shorten

        have = shorten(", ".join(known) or "none")
        raise UserError(f"--param {unknown[0]}: {shorten(repr(expression))} has no constant {unknown[0]!r} "
                        f"(its constants: {have})")


def parse_options(items: list[str] | None) -> dict[str, Any]:
    """Turn ``["temperature=0", "population_size=10"]`` into typed searcher options."""
    from actsearch.evaluators.settings import parse_assignments

    return parse_assignments(items, "--option")


TOP_HELP = "{} (0 = all)"


def top_limit(top: int) -> int | None:
    """``--top N`` everywhere: N rows / functions / candidates, 0 for all of them (None)."""
    return top or None


# The task options evaluate, baselines, search and validate share (one definition each).
TASK_HELP = task_help()  # from the light catalog of task names (the task registry imports torch)
STEPS_OPTION = typer.Option(None, "--steps", min=1, help="override the task's optimizer steps")
INIT_OPTION = typer.Option(None, "--init", help="hidden-layer init: he-relu, he-gain or default")
HEAD_OPTION = typer.Option(None, "--head", help="softmax, or activation (the candidate as the classifier)")
DATA_OPTION = typer.Option(None, "--data-dir", envvar="ACTSEARCH_DATA", help="CIFAR-10 directory (cifar10)")
SET_OPTION = typer.Option(None, "--set", help="any task setting, NAME=VALUE (repeatable)")
TIME_LIMIT_OPTION = typer.Option(None, "--time-limit", help="seconds per seed before the run counts as timeout")


def task_overrides(task: str, steps: int | None, init: str | None, head: str | None,
                   data_dir: Any, settings: list[str] | None) -> dict[str, Any]:
    """Task config overrides from the shared task options (``--set NAME=VALUE`` for any field)."""
    from actsearch.evaluators.settings import parse_assignments

    out: dict[str, Any] = parse_assignments(settings, "--set")
    for key, value in (("steps", steps), ("init", init), ("head", head)):
        if value is not None:
            if key in out:
                raise UserError(f"--{key} and --set {key}= are both given; give the setting once")
            out[key] = value
    if data_dir is not None and task == "cifar10":
        out["data_dir"] = str(data_dir)
    return out
