"""Validate the winners: re-evaluate the top K (plus relu and swish) on another task, more seeds.

The Swish paper checked its top functions on bigger networks; here the top K of a run's
leaderboard and the two references are trained again with ``actsearch.evaluators.evaluate`` on
the given task (optionally with config overrides, e.g. a wider child network) and seeds
0..N−1, and stored in the same run store with role ``validation``. A function already
validated on that task is skipped, so an interrupted validation can simply be run again.
Writing takes the store's writer lock: validation waits until the search has finished.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from actsearch.errors import UserError
from actsearch.results.leaderboard import REFERENCES


def task_label(name: str, overrides: dict[str, Any]) -> str:
    """The name the validation rows are stored under: ``name`` or ``name[k=v,...]``."""
    if not overrides:
        return name
    return name + "[" + ",".join(f"{k}={v}" for k, v in sorted(overrides.items())) + "]"


def candidates_to_validate(run: Any, top: int, source_task: str | None = None,
                           references: bool = True) -> list[tuple[str, dict[str, float]]]:
    """``(expression, params)`` of the top-K ranked functions, then relu and swish."""
    board = run.leaderboard(top=top, task=source_task, properties=False)
    out = [(e.expression, dict(e.params)) for e in board if e.rank is not None]
    if references:
        out += [(name, {}) for name in REFERENCES]
    return out


def validate(
    run_dir: str | os.PathLike,
    task: str,
    *,
    top: int = 3,
    seeds: int = 3,
    overrides: dict[str, Any] | None = None,
    source_task: str | None = None,
    references: bool = True,
    threads: int = 1,
    time_limit_s: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Evaluate and store; returns one dict per candidate (expression, task, status, score, ...)."""
    from actsearch.evaluators import evaluate, get_task
    from actsearch.results.export import activation_of
    from actsearch.results.run import Run
    from actsearch.results.store import RunStore

    if top < 0 or seeds < 1:
        raise UserError("--top must be ≥ 0 and --seeds ≥ 1")
    overrides = dict(overrides or {})
    task_obj = get_task(task, **overrides)
    label = task_label(task, overrides)
    with Run(run_dir) as run:
        todo = candidates_to_validate(run, top, source_task, references)
    seed_list = list(range(seeds))
    out = []
    with RunStore(Path(run_dir)) as store:
        done = store.fingerprints(task=label, role="validation")
        for expression, params in todo:
            act = activation_of(expression, params)
            is_ref = expression in REFERENCES
            # references are stored under "library:NAME", as the search stores them: swish and a
            # candidate x * sigmoid(beta * x) share a fingerprint yet are validated separately
            fingerprint = f"library:{expression}" if is_ref else act.fingerprint
            row = {"expression": expression, "task": label, "seeds": seeds}
            if fingerprint in done:
                out.append({**row, "status": "skipped", "score": None, "score_std": None,
                            "id": done[fingerprint]})
                if progress:
                    progress(f"{expression}: already validated on {label}")
                continue
            t0 = time.perf_counter()
            candidate = expression if is_ref else act
            result = evaluate(candidate, task_obj, seeds=seed_list, threads=threads, time_limit_s=time_limit_s)
            row_id = store.record(
                expression, fingerprint, result, task=label, role="validation",
                canonical=_canonical(act), params=dict(act.params), searcher="validate", seeds=seed_list,
            )
            done[fingerprint] = row_id
            out.append({**row, "status": result.status, "score": result.score, "score_std": result.score_std,
                        "id": row_id, "wall_s": time.perf_counter() - t0})
            if progress:
                progress(f"{expression}: {result.status} {result.score:.4f} ± {result.score_std:.4f} "
                         f"({seeds} seeds, {time.perf_counter() - t0:.1f} s)")
    return out


def _canonical(act: Any) -> str | None:
    try:
        return act.canonical
    except Exception:
        return None
