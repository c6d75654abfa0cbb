"""What a run's results must say about themselves wherever they are shown: the smoke-run banner and
the note on a discover run's leaderboard.

A pipeline run with ``--smoke`` (metadata ``preset`` ``rediscover-smoke``, ``discover-smoke``: a
name ending in :data:`SMOKE_SUFFIX`) trains a handful of candidates for few steps on few seeds: its
table checks that the pipeline runs end to end, and its winner means nothing. :func:`is_smoke` decides
that from the run's metadata; :data:`SMOKE_BANNER` is the one text every view prints (the pipeline's
log, ``leaderboard``, ``show``, the HTML report).

A ``discover`` run's leaderboard ranks by the search panel's score, while the pipeline's final table
(``discover.json``) ranks by the held-out architectures: :data:`DISCOVER_NOTE` says so, since the
two can name different winners.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SMOKE_SUFFIX = "-smoke"  # a preset name ending so is the same pipeline on a tiny budget
SMOKE_BANNER = "smoke run: few steps and seeds; this checks the pipeline, it does not rank functions"
DISCOVER_NOTE = ("ranked by the search panel; the held-out ranking and the verdicts are in discover.json / "
                 "the pipeline's final table")


def _preset(meta: Mapping[str, Any] | None) -> str:
    preset = (meta or {}).get("preset")
    return preset if isinstance(preset, str) else ""


def is_smoke(meta: Mapping[str, Any] | None) -> bool:
    """Whether the run (by its metadata) is a smoke run of a pipeline preset."""
    return is_smoke_preset(_preset(meta))


def is_smoke_preset(name: str) -> bool:
    """Whether a preset name is a smoke preset (``rediscover-smoke``, ``discover-smoke``)."""
    return name.endswith(SMOKE_SUFFIX)


def is_discover(meta: Mapping[str, Any] | None) -> bool:
    """Whether the run is a ``discover`` pipeline (smoke or not)."""
    return _preset(meta).startswith("discover")


def run_notes(meta: Mapping[str, Any] | None) -> list[str]:
    """The lines a view of the run's leaderboard prints with it (none for a plain search)."""
    return [*([SMOKE_BANNER] if is_smoke(meta) else []), *([DISCOVER_NOTE] if is_discover(meta) else [])]
