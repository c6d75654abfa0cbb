"""CLI command groups; each module exposes ``register(app)`` and imports heavy parts lazily.

- ``grammar``: inspect
- ``evaluate``: evaluate, baselines
- ``space``: space
- ``search``: search, resume
- ``results``: leaderboard, show, plot, report, validate, export
- ``features``: features (surrogate pre-screen)
- ``tasks``: tasks (every known task and its settings)
- ``confirm``: confirm (the top K against the references on fresh seeds: a verdict)
"""

from __future__ import annotations

import importlib

import typer

GROUPS = ("grammar", "evaluate", "tasks", "space", "search", "results", "confirm", "features")


def register_all(app: typer.Typer) -> None:
    """Add every group's commands to ``app`` (a group whose module is absent is skipped)."""
    for group in GROUPS:
        try:
            module = importlib.import_module(f"actsearch.commands.{group}")
        except ModuleNotFoundError as err:
            if err.name == f"actsearch.commands.{group}":
                continue
            raise
        module.register(app)
