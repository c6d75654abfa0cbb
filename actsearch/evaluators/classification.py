"""The built-in task that trains a child network on a data split: one seed at a time, or
(``run_pack``) the seeds of one or more candidates as one stacked network
(:mod:`~actsearch.evaluators.training.packs`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from actsearch.errors import UserError
from actsearch.evaluators import data, networks
from actsearch.evaluators.candidate import Candidate
from actsearch.evaluators.errors import TaskError
from actsearch.evaluators.protocol import TaskProbe
from actsearch.evaluators.result import EvalResult
from actsearch.evaluators.task import ReportRaised, Task, check_init, guarded
from actsearch.evaluators.training.loop import Report, train_classifier
from actsearch.grammar.activation import LayerFactory

HEADS = ("softmax", "activation")
PROBE_ROWS = 1024  # training examples a task's probe offers (propagation batch + trainability proxy)


class ClassificationTask(Task):
    """Data split + child network, trained by :func:`train_classifier`."""

    def __init__(self, name: str, config: Any, load: Callable[[Any], data.Split],
                 build: Callable[[Any, networks.ActFactory, float | None], nn.Module],
                 device: Callable[[Any], torch.device] = lambda cfg: torch.device("cpu"),
                 augment: Callable[[Any], Callable | None] = lambda cfg: None,
                 loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                 metric: Callable[[torch.Tensor, torch.Tensor], float] | None = None) -> None:
        super().__init__(name, config)
        self._load, self._build, self._device, self._augment = load, build, device, augment
        self._loss, self._metric = loss, metric
        self._moved: tuple[data.Split, data.Split] | None = None
        check_init(name, config.init)
        if config.head not in HEADS:
            raise TaskError(f"unknown head {config.head!r}; expected one of {', '.join(HEADS)}")

    @property
    def device(self) -> torch.device:
        """Where the task trains (its ``device`` setting where it has one)."""
        return self._device(self.config)

    def settings_changed(self) -> None:
        self._moved = None

    def network(self, factory: networks.ActFactory, gain: float | None = None) -> nn.Module:
        """The task's child network built with ``factory`` (from torch's current seed), on the CPU."""
        return self._build(self.config, factory, gain)

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
        from actsearch.evaluators.training.engine import member_form

        return self.batched and self._augment(self.config) is None and member_form(cand) is not None

    def stacks_candidates(self) -> bool:
        """Whether different candidates share one stacked network here (an MLP: one seed each is
        worth packing); elsewhere a stack holds the seeds of one candidate."""
        from actsearch.evaluators.training import engine

        with torch.random.fork_rng():
            network = self._build(self.config, nn.ReLU, None)
        kind = engine.choose_engine(network, candidates=engine.MIN_MEMBERS, seeds=1)
        return kind is not engine.EngineKind.SINGLE

    def run_pack(self, cands: Sequence[Candidate], seeds: Sequence[int], *,
                 reports: Sequence[Sequence[Report | None]] | None = None, threads: int = 1,
                 time_limit_s: float | None = None) -> list[list[tuple[EvalResult, torch.Tensor | None]]] | None:
        """Every seed of every candidate trained as one stacked network (see
        :mod:`~actsearch.evaluators.training.packs`).

        Per candidate, per seed: (result, test predictions); ``reports[c][i]`` receives candidate
        c's seed i's checkpoints. None when there is no batched form (a candidate that is not
        :meth:`batchable`, a network with batch norm, a single member — on a network other than
        an MLP, a single seed per candidate) or the batched run raised: the caller then trains
        the seeds one by one, which records each failure as it does today.
        """
        from actsearch.evaluators.training import packs

        if not cands or not all(self.batchable(c) for c in cands):
            return None
        previous = torch.get_num_threads()
        try:
            torch.set_num_threads(max(1, int(threads)))
            hooks = [guarded(r) for rs in (reports or [[None] * len(seeds)] * len(cands)) for r in rs]
            return packs.run_pack(self, cands, seeds, hooks, time_limit_s)
        except ReportRaised as err:  # the caller's own exception (e.g. a stop) passes through
            raise err.original from None
        except UserError:
            raise
        except Exception:  # noqa: BLE001 - the sequential path records the failure per seed
            return None
        finally:
            torch.set_num_threads(previous)
