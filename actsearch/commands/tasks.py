"""``actsearch tasks [REF ...]``: every known task, where it comes from, and its settings.

Without arguments: the built-in tasks, the ``table:`` replay and every installed entry point of
the group ``actsearch.tasks``. With references (``FILE.py:NAME``, ``module:NAME``, a name): those
tasks, loaded through the same resolver as ``evaluate`` (a bad reference is one line, exit 2).
"""

from __future__ import annotations

import typer

from actsearch.commands.common import print_json


def register(app: typer.Typer) -> None:
    """Add the ``tasks`` command to ``app``."""

    @app.command("tasks")
    def tasks_cmd(
        refs: list[str] | None = typer.Argument(None, help="task references to describe (default: every known task)"),
        as_json: bool = typer.Option(False, "--json", help="print JSON"),
    ) -> None:
        """List tasks (built-in, entry points of 'actsearch.tasks', or FILE.py:NAME / module:NAME
        given as arguments) with where each comes from and its settings (--set NAME=VALUE)."""
        from dataclasses import asdict

        from actsearch.evaluators.resolve import describe, known_tasks

        infos = [describe(r) for r in refs] if refs else known_tasks()
        if as_json:
            print_json([asdict(i) for i in infos])
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(title="tasks")
        for col in ("task", "from", "settings (defaults)"):
            table.add_column(col, overflow="fold")
        for info in infos:
            settings = ", ".join(f"{k}={v}" for k, v in info.settings.items()) or "-"
            table.add_row(info.name, info.origin + (f"\n{info.description}" if info.description else ""), settings)
        Console().print(table)
