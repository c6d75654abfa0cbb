"""The evaluators' user error, in a module light enough for the registry and the CLI's help."""

from __future__ import annotations

from actsearch.errors import UserError


class TaskError(UserError):
    """Unknown task name, a bad task override, or task data that cannot be read."""
