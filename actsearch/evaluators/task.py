"""The Task base: everything the engine may ask of a task, with its defaults in this one place.

Every task is a :class:`Task` — the built-in ones
(:class:`~actsearch.evaluators.classification.ClassificationTask`, :class:`ToyTask`),
the ``table:`` replay, a ``panel:``, a user's ``ModelTask`` and ``@actsearch.task`` function — or
is wrapped into one (:class:`ProtocolTask`: any object offering the public protocol of
:mod:`actsearch.evaluators.protocol`). The engine asks a task only what :class:`Task` declares:

- ``name``, ``config`` (its settings dataclass), ``evaluate_seed`` / ``run_seed`` (one seed,
  failures as statuses; the base owns the seed contract: trivial candidates are ``invalid``,
  torch's threads and seed are set, any exception becomes an ``error`` result);
- ``probe()`` (a :class:`TaskProbe`, or None: the Gaussian fallback);
- ``batched`` / ``batchable(cand)`` / ``run_pack(...)`` / ``stacks_candidates()`` (stacked
  training; by default a task trains seed by seed);
- ``checkpoints`` (reports per seed), ``summary_keys`` (per-seed metrics folded over seeds),
  ``steps`` (for pricing; None when unknown), ``device``;
- ``with_settings(**overrides)`` and ``check()`` (settings; checks before anything starts);
- ``references()`` (a panel's ReLU references) and ``lookup(fingerprint)`` (a table's rows).

:class:`ToyTask` runs one of the functions in :mod:`toy`; a child network on a data split is
:mod:`actsearch.evaluators.classification`.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from actsearch.errors import UserError
from actsearch.evaluators import networks
from actsearch.evaluators.candidate import Candidate, as_candidate
from actsearch.evaluators.errors import TaskError
from actsearch.evaluators.protocol import TaskProbe, is_task
from actsearch.evaluators.result import ERROR, INVALID, EvalResult, MemberStop, Status
from actsearch.evaluators.training.loop import Report
from actsearch.limits import Range


class ReportRaised(Exception):
    """An exception from the caller's ``report`` callback, passed through untouched (e.g. a stop)."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(str(original))
        self.original = original


def guarded(report: Report | None) -> Report | None:
    """``report`` whose exceptions pass through a seed's failure handling untouched (:class:`ReportRaised`),
    except a scheduler's :class:`MemberStop`, which the training loop (or :meth:`Task.run_seed`)
    turns into the member's ``stopped`` result."""
    if report is None:
        return None

    def call(iteration: int, score: float) -> None:
        try:
            report(iteration, score)
        except MemberStop:
            raise
        except Exception as err:
            raise ReportRaised(err) from err

    return call


def stopped(cut: MemberStop, seed: int, wall: float, step: int | None = None) -> EvalResult:
    """The ``stopped`` result of a seed a scheduler cut at a rung (its last reported score)."""
    metrics: dict[str, Any] = {"rung": cut.rung} if step is None else {"steps": step, "rung": cut.rung}
    return EvalResult(Status.STOPPED, cut.score, seed, wall, metrics, cut.describe(step, None), step)


def exit_call(err: SystemExit) -> str:
    """The ``sys.exit`` call that raised ``err``, as it would be written (``sys.exit(7)``)."""
    return f"sys.exit({'' if err.code is None else repr(err.code)[:80]})"


def exit_message(err: BaseException) -> str | None:
    """What a seed's ``SystemExit`` or ``KeyboardInterrupt`` from task code says (None otherwise)."""
    if isinstance(err, SystemExit):
        return f"the task called {exit_call(err)}"
    if isinstance(err, KeyboardInterrupt):
        return "the task raised KeyboardInterrupt"
    return None


def config_device(cfg: Any) -> torch.device:
    """The device of a config's ``device`` setting (``auto``: a GPU when torch sees one)."""
    if cfg.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise TaskError("device 'cuda' requested but no GPU is available")
    return torch.device(cfg.device)


def check_device(name: str, text: str) -> None:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N`` of a GPU torch sees, checked before any seed runs."""
    if text == "auto":
        return
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError, TypeError):
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise TaskError(f"task {name}: device must be auto, cpu, cuda or cuda:N, got {text!r}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise TaskError(f"task {name}: device {text!r} requested but torch sees no GPU here (use auto or cpu)")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise TaskError(f"task {name}: device {text!r}: torch sees {torch.cuda.device_count()} GPU(s)")


def check_init(name: str, init: Any) -> None:
    """A known hidden-layer init (:data:`networks.INITS`)."""
    if isinstance(init, str) and init not in networks.INITS:
        raise TaskError(f"task {name}: unknown init {init!r}; expected one of {', '.join(networks.INITS)}")


def _setting(config: Any, name: str, default: Any = None) -> Any:
    """The config's field ``name`` (``default`` when the config has no such field)."""
    return getattr(config, name, default)


class Task:
    """A named evaluation task; subclasses define how one seed is trained and scored."""

    summary_keys: tuple[str, ...] = ()  # per-seed metrics a candidate's result averages over its seeds

    def __init__(self, name: str, config: Any) -> None:
        self.name, self.config = name, config
        self.rules: Callable[[Task], None] | None = None  # a built-in's checks of its settings (see check)
        # the ranges of its settings (with_settings); None: by name, as any built-in task has them
        self.limits: Mapping[str, Range] | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    # -- what the engine may ask, with its defaults ------------------------------------------------
    def probe(self) -> TaskProbe | None:
        """A network and a batch for the pre-screen and the features; None: the Gaussian fallback."""
        return None

    @property
    def checkpoints(self) -> int:
        """Progress reports per seed (the ``checkpoints`` setting; 1 without one)."""
        return max(1, int(_setting(self.config, "checkpoints", 1) or 1))

    @property
    def steps(self) -> int | None:
        """Training steps of one seed (pricing the surrogate's set-up); None when unknown."""
        steps = _setting(self.config, "steps")
        return int(steps) if isinstance(steps, int) and not isinstance(steps, bool) and steps > 0 else None

    @property
    def batched(self) -> bool:
        """Whether the task trains stacked networks (its ``batched`` setting): a search then packs
        several candidates into one trial."""
        return bool(_setting(self.config, "batched", False))

    @property
    def device(self) -> torch.device:
        """Where the task trains."""
        return torch.device("cpu")

    def batchable(self, cand: Candidate) -> bool:
        """Whether ``cand``'s seeds can train as one stacked network (:meth:`run_pack`)."""
        return False

    def stacks_candidates(self) -> bool:
        """Whether different candidates share one stacked network (else a stack holds one candidate's seeds)."""
        return True

    def run_pack(self, cands: Sequence[Candidate], seeds: Sequence[int], *,
                 reports: Sequence[Sequence[Report | None]] | None = None, threads: int = 1,
                 time_limit_s: float | None = None) -> list[list[tuple[EvalResult, torch.Tensor | None]]] | None:
        """Per candidate, per seed: (result, test predictions), trained together; None when the task
        has no batched form (the caller then trains the seeds one by one)."""
        return None

    def with_settings(self, **overrides: Any) -> Task:
        """A copy with settings replaced (``--set NAME=VALUE``), typed and range-checked (then :meth:`check` it)."""
        if not overrides:
            return self
        from actsearch.evaluators.registry import known_limits
        from actsearch.evaluators.settings import apply_overrides

        if not dataclasses.is_dataclass(self.config):
            raise TaskError(f"task {self.name} takes no settings; got {', '.join(overrides)}")
        other = copy.copy(self)
        limits = self.limits if self.limits is not None else known_limits()
        other.config = apply_overrides(self.name, type(self.config), overrides, base=self.config, limits=limits)
        other.settings_changed()
        return other

    def settings_changed(self) -> None:
        """Drop what a copy made by :meth:`with_settings` must not share (caches of the old settings)."""

    def check(self) -> None:
        """Refuse, in one line, settings or code that cannot run (before any seed starts)."""
        if self.rules is not None:
            self.rules(self)

    def references(self, threads: int = 1) -> dict[str, Any]:
        """The ReLU reference of each member (a panel); other tasks have none."""
        return {}

    def lookup(self, fingerprint: str) -> dict[str, Any] | None:
        """The stored row of a candidate (a table replay); other tasks store none."""
        return None

    def describe(self) -> str:
        """One line about the task: the first line of its docstring, else of its settings'."""
        lines = [ln.strip() for ln in (self.__doc__ or type(self.config).__doc__ or "").splitlines() if ln.strip()]
        return lines[0] if lines else ""

    # -- one seed ------------------------------------------------------------------------------------
    def _run(self, cand: Candidate, seed: int, report: Report | None,
             time_limit_s: float | None) -> tuple[EvalResult, torch.Tensor | None]:
        raise NotImplementedError

    def run_seed(self, candidate: Any, seed: int, *, report: Report | None = None, threads: int = 1,
                 time_limit_s: float | None = None) -> tuple[EvalResult, torch.Tensor | None]:
        """Like :meth:`evaluate_seed`, plus the test predictions (for reproducibility PD)."""
        start = time.perf_counter()
        previous = torch.get_num_threads()
        try:
            cand = as_candidate(candidate)
            if cand.invalid:
                return EvalResult(INVALID, 0.0, seed, 0.0, {}, f"trivial candidate: {cand.invalid}"), None
            torch.set_num_threads(max(1, int(threads)))
            torch.manual_seed(seed)
            return self._run(cand, seed, guarded(report), time_limit_s)
        except ReportRaised as err:  # the caller's own exception is not the candidate's failure
            raise err.original from None
        except MemberStop as cut:  # a scheduler stopped the seed at a rung: its score there, a result
            return stopped(cut, seed, time.perf_counter() - start), None
        except UserError:
            raise
        except SystemExit as err:  # task code that calls sys.exit: this seed failed, the run goes on
            return EvalResult(ERROR, 0.0, seed, time.perf_counter() - start, {}, exit_message(err)), None
        except Exception as err:  # a failing candidate is a result, not a crash
            where = traceback.extract_tb(err.__traceback__)[-1]
            msg = " ".join(f"{type(err).__name__}: {err}".split())[:300]
            return EvalResult(ERROR, 0.0, seed, time.perf_counter() - start,
                              {"where": f"{os.path.basename(where.filename)}:{where.lineno}"}, msg), None
        finally:
            torch.set_num_threads(previous)

    def evaluate_seed(self, act: Any, seed: int, *, report: Report | None = None, threads: int = 1,
                      time_limit_s: float | None = None) -> EvalResult:
        """Train and score ``act`` once with ``seed``; failures come back as statuses."""
        return self.run_seed(act, seed, report=report, threads=threads, time_limit_s=time_limit_s)[0]


class ProtocolTask(Task):
    """Any object offering the public protocol (``name``, ``config``, ``evaluate_seed``,
    ``run_seed``; optionally ``probe``, ``with_settings``, ``check``, ``batchable``/``run_pack``…)
    as a :class:`Task`: its own members where it has them, the base's defaults elsewhere."""

    def __init__(self, obj: Any) -> None:
        super().__init__(str(obj.name), obj.config)
        self.obj = obj
        self.summary_keys = tuple(getattr(obj, "summary_keys", ()) or ())
        self.__doc__ = getattr(obj, "__doc__", None)

    def __repr__(self) -> str:
        return repr(self.obj)

    def _own(self, member: str) -> Any:
        found = getattr(self.obj, member, None)
        return found if callable(found) else None

    def probe(self) -> TaskProbe | None:
        probe = self._own("probe")
        return probe() if probe is not None else None

    @property
    def batched(self) -> bool:
        return bool(_setting(self.obj.config, "batched", False))

    def batchable(self, cand: Candidate) -> bool:
        batchable = self._own("batchable")
        return batchable is not None and bool(batchable(cand))

    def stacks_candidates(self) -> bool:
        stacks = self._own("stacks_candidates")
        return True if stacks is None else bool(stacks())

    def run_pack(self, cands: Sequence[Candidate], seeds: Sequence[int], *,
                 reports: Sequence[Sequence[Report | None]] | None = None, threads: int = 1,
                 time_limit_s: float | None = None) -> list[list[tuple[EvalResult, torch.Tensor | None]]] | None:
        run_pack = self._own("run_pack")
        if run_pack is None:
            return None
        return run_pack(cands, seeds, reports=reports, threads=threads, time_limit_s=time_limit_s)

    def with_settings(self, **overrides: Any) -> Task:
        if not overrides:
            return self
        own = self._own("with_settings")
        if own is None:
            raise TaskError(f"task {self.name} takes no settings (it has no with_settings); got {', '.join(overrides)}")
        return as_task_object(own(**overrides))

    def check(self) -> None:
        check = self._own("check")
        if check is not None:
            check()

    def references(self, threads: int = 1) -> dict[str, Any]:
        references = self._own("references")
        return references(threads) if references is not None else {}

    def lookup(self, fingerprint: str) -> dict[str, Any] | None:
        lookup = self._own("lookup")
        return lookup(fingerprint) if lookup is not None else None

    def run_seed(self, candidate: Any, seed: int, *, report: Report | None = None, threads: int = 1,
                 time_limit_s: float | None = None) -> tuple[EvalResult, torch.Tensor | None]:
        return self.obj.run_seed(candidate, seed, report=report, threads=threads, time_limit_s=time_limit_s)

    def evaluate_seed(self, act: Any, seed: int, *, report: Report | None = None, threads: int = 1,
                      time_limit_s: float | None = None) -> EvalResult:
        return self.obj.evaluate_seed(act, seed, report=report, threads=threads, time_limit_s=time_limit_s)


def as_task_object(obj: Any) -> Task:
    """``obj`` as a :class:`Task`: itself, or a :class:`ProtocolTask` around an object that offers
    the protocol (anything else is a :class:`TaskError`)."""
    if isinstance(obj, Task):
        return obj
    if is_task(obj):
        return ProtocolTask(obj)
    raise TaskError(f"{type(obj).__name__} is not a task (it does not offer name, config, evaluate_seed, run_seed)")


class ToyTask(Task):
    """A task whose whole run is one function of (factory, config, seed)."""

    def __init__(self, name: str, config: Any, run: Callable[..., EvalResult]) -> None:
        super().__init__(name, config)
        self._fn = run

    def _run(self, cand: Candidate, seed: int, report: Report | None,
             time_limit_s: float | None) -> tuple[EvalResult, torch.Tensor | None]:
        return self._fn(cand.factory, self.config, seed, report, time_limit_s), None


def probe_of(task: Any) -> TaskProbe | None:
    """The task's probe, or None when it has none (the caller then uses the Gaussian fallback)."""
    return as_task_object(task).probe()
