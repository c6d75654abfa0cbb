"""A run's settings and timings in words: what was searched, on what, with which budget, how long it took.

:func:`settings_rows` reads the run's metadata (the search spec and what the run stored beside it)
and its stored rows, and gives ``(label, text)`` rows for the HTML report's settings table: the command as one shell line,
the pre-screen explained, the versions on one line, and every other stored key as ``key=value`` text
(never a JSON dump of the spec, whose keys the rows above already show). :func:`timing_rows` adds the
wall time, from the run's start to its last stored row (each row's ``created_at`` plus its ``wall_s``),
and the seconds per candidate. Stored values are data: a value of an unexpected type is shown as
text, never trusted.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from actsearch.results.records import Role, task_label

# Keys the rows below speak for (the spec's copies at the top level of the metadata included).
_SPEC_KEYS = ("space", "searcher", "searcher_options", "budget", "task", "task_overrides", "references", "seeds",
              "seed", "workers", "cpus_per_trial", "gpus_per_trial", "address", "scheduler", "time_limit_s",
              "prescreen", "pack", "ship")
_SHOWN = {*_SPEC_KEYS, "spec", "schema_version", "command", "created_at", "resumed_at", "versions", "git",
          "preset", "task_source"}
_CLI_NAMES = {"actsearch", "cli.py", "__main__.py"}  # argv[0] of the actsearch command, however started


def text(value: Any, inner: bool = False) -> str:
    """A stored value as short text: ``k=v, k=v`` for an object, ``a, b`` for a list (in brackets
    inside another value)."""
    if isinstance(value, Mapping):
        out = ", ".join(f"{k}={text(v, True)}" for k, v in value.items())
        return f"({out})" if inner else out or "none"
    if isinstance(value, (list, tuple)):
        out = ", ".join(text(v, True) for v in value)
        return f"({out})" if inner else out or "none"
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def command_line(command: Any) -> str:
    """The stored command (``sys.argv``) as one shell line, ``actsearch`` for the program's path."""
    if isinstance(command, str):
        return command
    if not isinstance(command, list) or not command:
        return text(command)
    words = [str(w) for w in command]
    if PurePath(words[0]).name in _CLI_NAMES:
        words[0] = "actsearch"
    return shlex.join(words)


def _prescreen(value: Any, task: Any) -> str:
    what = "a candidate whose first forward and backward pass is broken is stored invalid, untrained"
    if value is True:
        return f"on: {what}"
    if value is False:
        return "off: every candidate trains"
    from actsearch.evaluators.reference import is_table

    if is_table(task):
        return "off (the default for table: tasks, whose scores are looked up)"
    return f"on (the default): {what}"


def settings_rows(meta: Mapping[str, Any], records: list[Any] | None = None) -> list[tuple[str, str]]:
    """``(label, text)`` rows of the run's settings, in reading order (with ``records``, the
    :func:`timing_rows` after its start)."""
    spec = meta.get("spec") if isinstance(meta.get("spec"), Mapping) else {}
    s = {**spec, **{k: meta[k] for k in _SPEC_KEYS if k in meta}}
    rows: list[tuple[str, str]] = []
    if meta.get("preset"):
        rows.append(("preset", f"{text(meta['preset'])} (a whole pipeline; its plan is below)"))
    if "space" in s or "searcher" in s:
        opts = s.get("searcher_options")
        rows.append(("searched", f"space {text(s.get('space'))} with the {text(s.get('searcher'))} searcher"
                     + (f" ({text(opts)})" if opts else "")))
    if "budget" in s:
        budget = s["budget"]
        rows.append(("budget", (f"{budget:,}" if isinstance(budget, int) else text(budget)) + " search candidates"
                     + (" in the first phase" if meta.get("preset") else "")))
    if "task" in s:
        overrides = s.get("task_overrides") if isinstance(s.get("task_overrides"), Mapping) else {}
        rows.append(("task", task_label(text(s["task"]), dict(overrides))))
    source = meta.get("task_source")
    if isinstance(source, Mapping) and source.get("sha256"):
        rows.append(("task source", f"sha256 {text(source['sha256'])[:16]}…"))
    if "references" in s:
        rows.append(("references", text(s["references"])))
    if "seeds" in s:
        seeds = s["seeds"]
        span = f" (seeds 0..{seeds - 1})" if isinstance(seeds, int) and seeds > 1 else ""
        rows.append(("seeds", f"{text(seeds)} per candidate{span}; the searcher's seed {text(s.get('seed'))}"))
    if "workers" in s:
        per = f"{text(s.get('cpus_per_trial', 1.0))} CPU"
        if s.get("gpus_per_trial"):
            per += f", {text(s['gpus_per_trial'])} GPU"
        pack = f"; packs of {text(s['pack'])}" if s.get("pack") else ""
        rows.append(("workers", f"{text(s['workers'])} trials at once on "
                     f"{'the Ray cluster at ' + text(s['address']) if s.get('address') else 'the embedded local Ray'}"
                     f" ({per} a trial{pack})"))
    if s.get("scheduler") not in (None, "fifo"):
        rows.append(("scheduler", f"{text(s['scheduler'])}: weak candidates stopped early"))
    if s.get("time_limit_s") is not None:
        rows.append(("time limit", f"{text(s['time_limit_s'])} s a seed"))
    if "prescreen" in s:
        rows.append(("pre-screen", _prescreen(s["prescreen"], s.get("task"))))
    if s.get("ship"):
        rows.append(("shipped", text(s["ship"])))
    if "command" in meta:
        rows.append(("command", command_line(meta["command"])))
    for key, label in (("created_at", "started"), ("resumed_at", "resumed")):
        if key in meta:
            rows.append((label, text(meta[key])))
    rows += timing_rows(meta, records or [])
    versions = meta.get("versions")
    if versions is not None:
        rows.append(("versions", ", ".join(f"{k} {text(v)}" for k, v in versions.items())
                     if isinstance(versions, Mapping) else text(versions)))
    if "git" in meta:
        rows.append(("git", text(meta["git"])))
    rows += [(str(k), text(meta[k])) for k in sorted(meta, key=str) if k not in _SHOWN]
    return rows


def duration(seconds: float) -> str:
    """``42 s``, ``13 min 57 s``, ``2 h 05 min``."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def timing_rows(meta: Mapping[str, Any], records: list[Any]) -> list[tuple[str, str]]:
    """``(label, text)`` rows of how long the run took and where the time went (none for a run
    without stored rows): :func:`actsearch.results.timings.timings` read in words."""
    from actsearch.results.timings import timings

    t = timings(dict(meta), records)
    if t.wall_s is None:
        return []
    pause = " (the pause before a resume included)" if t.resumed else ""
    rows = [("wall time", f"{duration(t.wall_s)} from the start to the last stored row{pause}")]
    trials = sum(1 for r in records if r.alias_of is None and r.role == Role.SEARCH and r.trained)
    if trials:
        per = f"{duration(t.wall_s / trials)} of wall time for each of {trials} search candidates"
        if t.train_mean_s is not None:
            per += f"; {duration(t.train_mean_s)} of training each (mean, seeds together)"
        rows.append(("per candidate", per))
    rows.append(("where the time went", "; ".join(t.lines())))
    return rows
