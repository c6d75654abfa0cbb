"""CLI consistency: one bundle of task options, one meaning per short flag."""

from __future__ import annotations

import re

from typer.main import get_command

from actsearch.cli import app

TASK_OPTIONS = {"--steps", "--init", "--head", "--data-dir", "--set", "--time-limit"}


def _options(name: str) -> dict[str, str | None]:
    """--long -> its short flag (or None) for one command."""
    command = get_command(app).commands[name]
    out = {}
    for p in command.params:
        longs = [o for o in p.opts if o.startswith("--")]
        shorts = [o for o in p.opts if re.fullmatch(r"-\w", o)]
        for long in longs:
            out[long] = shorts[0] if shorts else None
    return out


def test_the_commands_that_train_share_the_task_options():
    for name in ("evaluate", "baselines", "search", "validate"):
        assert TASK_OPTIONS <= set(_options(name)), name


def test_a_short_flag_means_one_thing_everywhere():
    meaning: dict[str, str] = {}
    for name in get_command(app).commands:
        for long, short in _options(name).items():
            if short is not None:
                assert meaning.setdefault(short, long) == long, f"{short} is {meaning[short]} and {long} ({name})"
