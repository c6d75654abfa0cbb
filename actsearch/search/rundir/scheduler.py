"""Which scheduler a search runs under, and what halving needs from its task: the run's default
(``halving`` where the task trains packs of one-seed candidates, else ``fifo``), the choice kept on
resume, and the task's ``checkpoints`` setting made to fall on the rungs
(:mod:`actsearch.search.loop.halving`)."""

from __future__ import annotations

from typing import Any

from actsearch.errors import UserError
from actsearch.search.rundir.spec import SearchSpec

# A preset run stored before its plan named a scheduler trained every candidate in full, with the
# task's own checkpoints: resumed, it keeps that (the pipelines' ``resumed``).
LEGACY_SCHEDULER = "fifo"


def rung_settings(overrides: dict[str, Any], scheduler: str) -> dict[str, Any]:
    """A plan's task settings as every phase trains with them (the rows of one leaderboard): its
    own, with the ``checkpoints`` halving's rungs fall on when ``scheduler`` is ``halving``."""
    if scheduler != "halving" or "checkpoints" in overrides:
        return dict(overrides)
    from actsearch.search.loop.halving import default_checkpoints

    return {**overrides, "checkpoints": default_checkpoints()}


def default_scheduler(spec: SearchSpec, task: Any) -> str:
    """The scheduler of a run that names none: ``halving`` where the task trains packs of one-seed
    candidates (a built-in batched task whose stacks hold several candidates), ``seeds`` is 1 and
    there are steps enough for its checkpoints, else ``fifo`` (every trial trains in full)."""
    from actsearch.search.loop.halving import default_checkpoints

    steps = task.steps
    enough = steps is None or steps >= default_checkpoints()
    return "halving" if spec.seeds == 1 and enough and task.batched and task.stacks_candidates() else "fifo"


def resolve_scheduler(spec: SearchSpec, task: Any, stored: str | None = None, *, resume: bool = False,
                      ) -> tuple[SearchSpec, Any]:
    """The spec with its scheduler chosen (:func:`default_scheduler` for a new run that names none;
    ``stored`` for a resumed one, fifo when it stored none) and, for ``halving``, the task's
    ``checkpoints`` setting in its overrides (the user's when every rung falls on one, else the task's
    own when it does, else :func:`~actsearch.search.loop.halving.default_checkpoints`), with the task
    rebuilt with it. Refused in one line: halving with several seeds, an explicit ``checkpoints`` no
    rung falls on, a task without a ``checkpoints`` setting or with fewer steps than checkpoints.
    A pipeline phase asks for halving by resolving its spec with ``scheduler="halving"``."""
    from dataclasses import replace

    from actsearch.search.loop.halving import default_checkpoints, rung_checkpoints, shown

    scheduler = spec.scheduler or ((stored or "fifo") if resume else default_scheduler(spec, task))
    spec = replace(spec, scheduler=scheduler)
    if scheduler != "halving":
        return spec, task
    if spec.seeds != 1:
        raise UserError(f"--scheduler halving stops one-seed candidates at a rung; with --seeds {spec.seeds} "
                        "use --scheduler fifo")
    given = spec.task_overrides.get("checkpoints")
    if given is not None:
        if isinstance(given, bool) or not isinstance(given, int) or rung_checkpoints(given) is None:
            raise UserError(f"--set checkpoints={given} does not fall on the halving rungs ({shown()} of the "
                            f"steps): give a multiple of {default_checkpoints()}, or --scheduler fifo")
        checkpoints = given
    else:
        own = task.checkpoints
        checkpoints = own if rung_checkpoints(own) is not None else default_checkpoints()
    if not given:
        try:
            task = task.with_settings(checkpoints=checkpoints)
        except UserError:
            raise UserError(f"--scheduler halving needs a task with a checkpoints setting (it reports 1..K per "
                            f"seed); task {task.name} has none: use --scheduler fifo") from None
    steps = task.steps
    if steps is not None and steps < checkpoints:
        raise UserError(f"--scheduler halving: {steps} steps are fewer than the {checkpoints} checkpoints its "
                        "rungs fall on; train more steps, or --scheduler fifo")
    return replace(spec, task_overrides={**spec.task_overrides, "checkpoints": checkpoints}), task


def halving_ladder(spec: SearchSpec) -> Any:
    """The :class:`~actsearch.search.loop.halving.Ladder` of a spec resolved to ``halving``
    (:func:`resolve_scheduler`), else None."""
    if spec.scheduler != "halving":
        return None
    from actsearch.search.loop.halving import Ladder

    checkpoints = spec.task_overrides.get("checkpoints")
    if not isinstance(checkpoints, int):
        raise ValueError("a halving spec holds its checkpoints setting: resolve_scheduler(spec, task) first")
    return Ladder(checkpoints)
