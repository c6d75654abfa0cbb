"""Full-control user tasks: any ``fn(act, seed, report)`` that trains and returns a score.

::

    @actsearch.task("my-task", steps=200, lr=0.01)
    def train(act, seed, report, settings):
        net = MyNet(act)                       # act() is a fresh nn.Module of the candidate
        ...                                    # the user's own loop, with settings.steps, settings.lr
        report(step, val_acc)                  # optional: progress, ASHA, and the time limit
        return {"score": val_acc, "test_acc": test_acc}   # or just the score (higher is better)

``settings`` (optional fourth parameter) is the task's settings dataclass, made from the
decorator's keywords and overridable with ``--set NAME=VALUE`` (typed from the defaults and
range-checked by name, as a built-in task's setting of that name is:
:func:`actsearch.evaluators.registry.known_limits`). Declare ``checkpoints=K`` when one seed calls
``report`` K times with steps 1..K: progress over several seeds (and ASHA) counts seed ``i``'s
step ``k`` as iteration ``i * K + k``, as for the built-in tasks. A plain function with that signature is a task too
(its name is the function's). Outcomes, as for every task: an exception → ``error`` with the
message (the traceback is kept in the result's ``metrics["traceback"]`` for ``actsearch show``);
a NaN or infinite score → ``diverged``; a return value that is neither a number nor a dict with
a numeric ``"score"`` → ``error``; ``time_limit_s`` → ``timeout``; a ``report`` call at which a
scheduler cuts the seed (successive halving: a rung's checkpoint ``k``, so report steps 1..K) raises
inside the function and the seed is ``stopped`` with that score (let it propagate: do not catch
every exception around ``report``). A seed that calls ``sys.exit``
(or raises ``KeyboardInterrupt`` off the main thread) is an ``error`` saying so, not the end of
the run.

How the time limit ends a seed: every ``report`` call checks the deadline and stops the seed
cleanly; a seed that never calls ``report`` runs in a worker thread that is abandoned at the
deadline (the result is ``timeout`` at once, but the thread keeps its CPU until the function
returns, since Python cannot kill a thread — call ``report`` in long loops). ``probe=`` gives
the pre-screen and features a network and a batch (a :class:`TaskProbe` or ``(build, inputs,
targets)``); without one they use the Gaussian fallback.

A seed that scores also stores the values the learnable constants of the modules ``act()`` made
reached when the function returned (``learned.NAME``, see :mod:`actsearch.evaluators.learned`).
"""

from __future__ import annotations

import copy
import inspect
import math
import numbers
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import torch

from actsearch.evaluators.candidate import Candidate
from actsearch.evaluators.learned import Recorder
from actsearch.evaluators.protocol import TaskProbe
from actsearch.evaluators.registry import known_limits
from actsearch.evaluators.result import DIVERGED, ERROR, OK, TIMEOUT, EvalResult, MemberStop
from actsearch.evaluators.settings import apply_overrides, settings_type
from actsearch.evaluators.task import ReportRaised, Task, TaskError, exit_message, stopped
from actsearch.evaluators.training.loop import Report
from actsearch.grammar.activation import LayerFactory

TRACEBACK_CHARS = 4000  # the end of a user's traceback kept in the result's metrics
_NOT_SCORES = (str, bytes, list, tuple, set, type(None))  # return annotations refused up front


class _Deadline(Exception):
    """Raised inside the user's ``report`` once the seed's time limit has passed."""

    def __init__(self, step: int) -> None:
        super().__init__(f"time limit reached at step {step}")
        self.step = step


def check_signature(fn: Callable, name: str) -> bool:
    """Refuse (one line) a function that cannot be called as ``fn(act, seed, report)``; True when it
    also takes ``settings`` (a fourth positional parameter or a keyword)."""
    if not callable(fn):
        raise TaskError(f"task {name}: {type(fn).__name__} is not callable")
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    params = list(sig.parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    star = any(p.kind == p.VAR_POSITIONAL for p in params)
    required = [p for p in positional if p.default is p.empty]
    takes_settings = "settings" in sig.parameters or any(p.kind == p.VAR_KEYWORD for p in params) or \
        (len(positional) >= 4 and not star)
    if (len(positional) < 3 and not star) or len(required) > (4 if takes_settings else 3):
        have = ", ".join(p.name for p in params) or "none"
        raise TaskError(f"task {name}: a task function takes (act, seed, report[, settings]); "
                        f"{getattr(fn, '__name__', 'it')} takes ({have})")
    ret = sig.return_annotation  # a class, or its name under `from __future__ import annotations`
    bad = ret.__name__ if isinstance(ret, type) and issubclass(ret, _NOT_SCORES) else \
        ret if isinstance(ret, str) and ret in {t.__name__ for t in _NOT_SCORES} | {"None"} else None
    if bad:
        raise TaskError(f"task {name}: it is annotated to return {bad}; a task returns a number "
                        "or a dict with 'score'")
    return takes_settings


def _as_probe(value: Any, name: str) -> TaskProbe:
    if isinstance(value, TaskProbe):
        return value
    if isinstance(value, tuple) and len(value) == 3:
        build, inputs, targets = value
        return TaskProbe(build, torch.as_tensor(inputs).float().cpu(), torch.as_tensor(targets).long().cpu())
    raise TaskError(f"task {name}: probe() must return a TaskProbe or (build, inputs, targets), "
                    f"got {type(value).__name__}")


def _outcome(value: Any, seed: int, wall: float) -> EvalResult:
    """The user's return value as a result: a number, or a dict with ``"score"`` and metrics."""
    metrics: dict[str, Any] = {}
    score = value
    if isinstance(value, dict):
        if "score" not in value:
            return EvalResult(ERROR, 0.0, seed, wall, {}, f"the task returned a dict without 'score' "
                              f"(keys: {', '.join(map(str, value))[:200]})")
        score = value["score"]
        for key, v in value.items():
            if key == "score":
                continue
            if isinstance(v, torch.Tensor) and v.numel() == 1:
                v = v.item()
            metrics[str(key)] = v if isinstance(v, (bool, int, float, str)) or v is None else repr(v)[:200]
    if isinstance(score, torch.Tensor) and score.numel() == 1:
        score = score.item()
    if isinstance(score, bool) or not isinstance(score, numbers.Real):
        return EvalResult(ERROR, 0.0, seed, wall, metrics,
                          f"the task returned a {type(score).__name__}; expected a number or a dict with 'score'")
    score = float(score)
    if not math.isfinite(score):
        return EvalResult(DIVERGED, 0.0, seed, wall, metrics, f"the task's score is {score}")
    return EvalResult(OK, score, seed, wall, metrics)


class UserTask(Task):
    """A user's training function as a task (see the module docstring)."""

    def __init__(self, fn: Callable, name: str | None = None, settings: dict[str, Any] | None = None,
                 probe: Callable[[], Any] | None = None) -> None:
        name = name or getattr(fn, "__name__", None) or "user-task"
        self.fn = fn
        self._takes_settings = check_signature(fn, name)
        self._probe_fn = probe
        self._probe: TaskProbe | None = None
        self.settings_type = settings_type(name, dict(settings or {}))
        super().__init__(name, self.settings_type())
        if probe is not None and not callable(probe):
            raise TaskError(f"task {name}: probe must be a callable returning (build, inputs, targets)")

    def __call__(self, act: Callable, seed: int, report: Report | None = None) -> Any:
        """Call the function directly (as the decorated function would be called)."""
        return self._call(act, seed, report or (lambda step, score: None))

    def with_settings(self, **overrides: Any) -> UserTask:
        """A copy with settings replaced (``--set NAME=VALUE``), typed and range-checked."""
        if not overrides:
            return self
        other = copy.copy(self)
        other.config = apply_overrides(self.name, self.settings_type, overrides, base=self.config,
                                       limits=known_limits())
        return other

    def probe(self) -> TaskProbe | None:
        if self._probe_fn is None:
            return None
        if self._probe is None:
            self._probe = _as_probe(self._probe_fn(), self.name)
        return self._probe

    def _call(self, act: Callable, seed: int, report: Report) -> Any:
        if self._takes_settings:
            return self.fn(act, seed, report, settings=self.config)
        return self.fn(act, seed, report)

    def _run(self, cand: Candidate, seed: int, report: Report | None,
             time_limit_s: float | None) -> tuple[EvalResult, torch.Tensor | None]:
        start = time.perf_counter()
        deadline = None if time_limit_s is None else start + time_limit_s
        last = [0]

        def progress(step: int, score: float) -> None:
            last[0] = int(step)
            if deadline is not None and time.perf_counter() > deadline:
                raise _Deadline(int(step))
            if report is not None:
                report(int(step), float(score))

        def timeout(step: int, why: str) -> tuple[EvalResult, None]:
            return EvalResult(TIMEOUT, 0.0, seed, time.perf_counter() - start, {"steps": step},
                              f"time limit {time_limit_s:g} s reached {why}", step), None

        box: dict[str, Any] = {}
        made = Recorder(cand.factory)  # the modules act() handed out, read back after training

        def target() -> None:
            try:
                box["value"] = self._call(LayerFactory(made), seed, progress)  # also act(inplace=True)
            except BaseException as err:  # handed to the calling thread below
                box["error"] = err

        if deadline is None:
            target()
        else:
            worker = threading.Thread(target=target, name=f"actsearch-task-{self.name}-seed{seed}", daemon=True)
            worker.start()
            worker.join(max(0.0, deadline - time.perf_counter()))
            if worker.is_alive():  # it never reported after the deadline: abandon its thread
                return timeout(last[0], f"(the task did not return; its last report was step {last[0]})")
        wall = time.perf_counter() - start
        err = box.get("error")
        if isinstance(err, _Deadline):
            return timeout(err.step, f"at step {err.step}")
        if isinstance(err, MemberStop):  # a scheduler's cut at a rung: the last reported score
            return stopped(err, seed, wall, last[0]), None
        if err is not None:
            # The caller's own report failing passes through, and so does a KeyboardInterrupt on the
            # main thread (it may be the user's Ctrl-C). One in another thread (the deadline's, a
            # Ray trainable's) comes from the task's code, as does a SystemExit: the seed failed.
            own_interrupt = isinstance(err, KeyboardInterrupt) and (
                deadline is not None or threading.current_thread() is not threading.main_thread())
            if isinstance(err, ReportRaised) or not (isinstance(err, (Exception, SystemExit)) or own_interrupt):
                raise err
            msg = exit_message(err) or " ".join(f"{type(err).__name__}: {err}".split())[:300]
            tb = "".join(traceback.format_exception(type(err), err, err.__traceback__))[-TRACEBACK_CHARS:]
            return EvalResult(ERROR, 0.0, seed, wall, {"traceback": tb}, msg), None
        result = _outcome(box.get("value"), seed, wall)
        if result.status == OK:  # the task's own metrics of the same name win
            result.metrics.update({k: v for k, v in made.learned().items() if k not in result.metrics})
        return result, None


def task(name: str, *, probe: Callable[[], Any] | None = None, **settings: Any) -> Callable[[Callable], UserTask]:
    """Decorator: ``@actsearch.task("name", steps=200)`` makes ``fn(act, seed, report[, settings])``
    a task with that name and those settings (defaults; ``--set`` overrides them)."""
    if not isinstance(name, str) or not name.strip() or ":" in name:
        raise TaskError(f"a task name must be non-empty text without ':', got {name!r}")

    def wrap(fn: Callable) -> UserTask:
        made = UserTask(fn, name.strip(), settings, probe)
        made.__doc__ = getattr(fn, "__doc__", None)
        return made

    return wrap
