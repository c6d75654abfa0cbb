"""CLI consistency: one bundle of task options, one meaning per short flag."""

from __future__ import annotations

import re

import pytest
from typer.main import get_command

from actsearch.cli import app

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

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


def test_help_texts_list_the_registries_without_importing_torch():
    """Searchers, spaces, pipelines and tasks in help come from their registries (a name added there
    shows up here), and building the help imports no torch."""
    import subprocess
    import sys

    from typer.testing import CliRunner

    from actsearch.evaluators.catalog import PANELS, TASKS
    from actsearch.search.pipelines import pipeline_names
    from actsearch.search.searchers import SEARCHERS
    from actsearch.search.space import PRESETS

    def params(command: str) -> dict[str, str]:
        return {p.opts[0]: p.help or "" for p in get_command(app).commands[command].params}

    search = params("search")
    assert all(name in search["--searcher"] for name in SEARCHERS)
    assert all(name in search["--space"] for name in PRESETS) and all(name in params("space")["space"] for name in PRESETS)
    assert all(name in search["--preset"] for name in pipeline_names() if not name.endswith("-smoke"))
    for command in ("evaluate", "baselines", "search", "validate"):
        text = params(command)["--task"]
        assert all(name in text for name in (*TASKS, *PANELS)), command
    assert CliRunner().invoke(app, ["search", "--help"]).exit_code == 0
    probe = "import sys; from actsearch.cli import main; sys.argv = ['actsearch', 'search', '--help']\n" \
            "try:\n    main()\nexcept SystemExit:\n    pass\nprint('torch' in sys.modules, file=sys.stderr)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.stderr.strip().endswith("False") and "--searcher" in out.stdout, out.stderr
