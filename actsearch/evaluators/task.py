"""Task classes: what one seed of an evaluation does, with failures turned into statuses.

Every class here satisfies the public protocol of :mod:`actsearch.evaluators.protocol`.
:class:`Task` owns the contract (``evaluate_seed(candidate, seed, report=, threads=,
time_limit_s=)``): it rejects trivial candidates as ``invalid``, sets torch's thread count and
seed, and turns any exception into an ``error`` result. :class:`ClassificationTask` trains a child
network on a data split — one seed at a time, or (``run_pack``) the seeds of one or more
candidates as one stacked network; :class:`ToyTask` runs one of the functions in :mod:`toy`.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from actsearch.errors import UserError
from actsearch.evaluators import data, models
from actsearch.evaluators.candidate import Candidate, as_candidate
from actsearch.evaluators.protocol import TaskProbe
from actsearch.evaluators.result import ERROR, INVALID, EvalResult
from actsearch.evaluators.train import Report, train_classifier
from actsearch.grammar.activation import LayerFactory

HEADS = ("softmax", "activation")
PROBE_ROWS = 1024  # training examples a task's probe offers (propagation batch + trainability proxy)


class TaskError(UserError):
    """Unknown task name, a bad task override, or task data that cannot be read."""


class _ReportRaised(Exception):
    """An exception from the caller's ``report`` callback, passed through untouched (e.g. a stop)."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(str(original))
        self.original = original


def _guarded(report: Report | None) -> Report | None:
    if report is None:
        return None

    def call(iteration: int, score: float) -> None:
        try:
            report(iteration, score)
        except Exception as err:
            raise _ReportRaised(err) from err

    return call


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


class Task:
    """A named evaluation task; subclasses define how one seed is trained and scored."""

    def __init__(self, name: str, config: Any) -> None:
        self.name, self.config = name, config

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def probe(self) -> TaskProbe | None:
        """A network and a batch for the pre-screen and the features; None: the Gaussian fallback."""
        return None

    # The pre-screen's hooks (``actsearch.search.screening.features.probe_for``), derived from ``probe()``.
    # Without a probe they are absent (AttributeError), so callers fall back to the Gaussian probe.
    @property
    def build_model(self) -> Callable[[models.ActFactory], nn.Module]:
        probe = self.probe()
        if probe is None:
            raise AttributeError("build_model")
        return probe.build

    @property
    def sample_batch(self) -> Callable[[int], tuple[torch.Tensor, torch.Tensor]]:
        probe = self.probe()
        if probe is None:
            raise AttributeError("sample_batch")
        return lambda n: (probe.inputs[:n], probe.targets[:n])

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
            return self._run(cand, seed, _guarded(report), time_limit_s)
        except _ReportRaised as err:  # the caller's own exception is not the candidate's failure
            raise err.original from None
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


class ClassificationTask(Task):
    """Data split + child network, trained by :func:`train_classifier`."""

    def __init__(self, name: str, config: Any, load: Callable[[Any], data.Split],
                 build: Callable[[Any, models.ActFactory, float | None], nn.Module],
                 device: Callable[[Any], torch.device] = lambda cfg: torch.device("cpu"),
                 augment: Callable[[Any], Callable | None] = lambda cfg: None,
                 loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                 metric: Callable[[torch.Tensor, torch.Tensor], float] | None = None) -> None:
        super().__init__(name, config)
        self._load, self._build, self._device, self._augment = load, build, device, augment
        self._loss, self._metric = loss, metric
        self._moved: tuple[data.Split, data.Split] | None = None
        if config.init not in models.INITS:
            raise TaskError(f"unknown init {config.init!r}; expected one of {', '.join(models.INITS)}")
        if config.head not in HEADS:
            raise TaskError(f"unknown head {config.head!r}; expected one of {', '.join(HEADS)}")

    def probe(self) -> TaskProbe:
        """The task's own child network and its first training examples."""
        split = self._load(self.config)
        return TaskProbe(lambda factory: self._build(self.config, factory, None), split.x_train[:PROBE_ROWS].cpu(),
                         split.y_train[:PROBE_ROWS].cpu(), float(self.config.lr), int(self.config.batch_size))

    def split(self) -> data.Split:
        """The task's data on its device (one device copy per task for GPU runs)."""
        cfg = self.config
        device = self._device(cfg)
        split = self._load(cfg)
        if split.x_train.device != device:
            if self._moved is None or self._moved[0] is not split:
                self._moved = (split, split.to(device))
            split = self._moved[1]
        return split

    def build(self, cand: Candidate, gain: float | None) -> tuple[nn.Module, list[nn.Module]]:
        """A fresh child network for ``cand`` (from torch's current seed) and its hidden activations."""
        made: list[nn.Module] = []

        def factory() -> nn.Module:
            module = cand.factory()
            made.append(module)
            return module

        model = self._build(self.config, LayerFactory(factory), gain)  # act_layer(inplace=True) works too
        acts = list(made)
        if self.config.head == "activation":
            model = nn.Sequential(model, cand.factory())
        return model.to(self._device(self.config)), acts

    def _run(self, cand: Candidate, seed: int, report: Report | None,
             time_limit_s: float | None) -> tuple[EvalResult, torch.Tensor | None]:
        cfg = self.config
        split = self.split()
        model, acts = self.build(cand, cand.he_gain() if cfg.init == "he-gain" else None)
        return train_classifier(model, acts, split, cfg, seed, report=report, time_limit_s=time_limit_s,
                                augment=self._augment(cfg), loss=self._loss, metric=self._metric)

    def batchable(self, cand: Candidate) -> bool:
        """Whether ``cand``'s seeds can train as one stacked network on this task (its ``batched``
        setting is on, and the candidate is a compiled or library function)."""
        from actsearch.evaluators import batched

        return bool(getattr(self.config, "batched", False)) and self._augment(self.config) is None \
            and batched.member_form(cand) is not None

    def stacks_candidates(self) -> bool:
        """Whether different candidates share one stacked network here (an MLP: one seed each is
        worth packing); elsewhere a stack holds the seeds of one candidate."""
        from actsearch.evaluators import batched

        with torch.random.fork_rng():
            return batched.is_stackable(self._build(self.config, nn.ReLU, None))

    def run_pack(self, cands: Sequence[Candidate], seeds: Sequence[int], *,
                 reports: Sequence[Sequence[Report | None]] | None = None, threads: int = 1,
                 time_limit_s: float | None = None) -> list[list[tuple[EvalResult, torch.Tensor | None]]] | None:
        """Every seed of every candidate trained as one stacked network (see :mod:`batched`).

        Per candidate, per seed: (result, test predictions); ``reports[c][i]`` receives candidate
        c's seed i's checkpoints. None when there is no batched form (a candidate that is not
        :meth:`batchable`, a network with batch norm, a single member — on a network other than
        an MLP, a single seed per candidate) or the batched run raised: the caller then trains
        the seeds one by one, which records each failure as it does today.
        """
        from actsearch.evaluators import batched

        if not cands or not all(self.batchable(c) for c in cands):
            return None
        previous = torch.get_num_threads()
        try:
            torch.set_num_threads(max(1, int(threads)))
            hooks = [_guarded(r) for rs in (reports or [[None] * len(seeds)] * len(cands)) for r in rs]
            return batched.run_pack(self, cands, seeds, hooks, time_limit_s)
        except _ReportRaised as err:  # the caller's own exception (e.g. a stop) passes through
            raise err.original from None
        except UserError:
            raise
        except Exception:  # noqa: BLE001 - the sequential path records the failure per seed
            return None
        finally:
            torch.set_num_threads(previous)


class ToyTask(Task):
    """A task whose whole run is one function of (factory, config, seed)."""

    def __init__(self, name: str, config: Any, run: Callable[..., EvalResult]) -> None:
        super().__init__(name, config)
        self._fn = run

    def _run(self, cand: Candidate, seed: int, report: Report | None,
             time_limit_s: float | None) -> tuple[EvalResult, torch.Tensor | None]:
        return self._fn(cand.factory, self.config, seed, report, time_limit_s), None
