"""The one loop: a :class:`Study` asks the searcher, classifies each proposal, hands trials to an
executor and records every outcome through the store.

A proposal travels: ``searcher.ask(id)`` → :meth:`Study.next_trial` classifies it → a pending row
(``store.add_trial``) and a :class:`~actsearch.search.loop.trials.TrialConfig` → the executor
→ a :class:`~actsearch.search.loop.trials.TrialEvent` → :meth:`Study.complete` (``store.finish``
and ``searcher.tell``). Classification of a proposal, against the run's rows (rebuilt from the
store when the study opens, then kept in memory — never re-read per trial):

- its fingerprint is trivial (constant, non-finite, zero gradient) → stored ``invalid`` untrained
  once per fingerprint; the searcher is told ``skipped``;
- the run holds its fingerprint under another text → an alias row (once per text); ``skipped``;
- the run holds this very text (a resumed searcher asking again) → the stored outcome is told
  (at once, or when that trial finishes);
- the pre-screen rejects it → stored ``invalid`` untrained (no trial number, not counted in the
  budget), told as a failure;
- else a new trial.

What a study hands out, in order: the work of its job sources (:mod:`~actsearch.search.loop.jobs`),
asked in their order — rescore jobs (:meth:`rescore`), references not stored yet, trials a
previous process left pending or running, then any source a pipeline adds (:meth:`add_source`) —
and only then the searcher's proposals, until the budget (finished search trials + the search
trials in flight; a source says which of its trials count) is reached. A trial finishes through
the source that handed it out (a rescore merges its runs into the row; the others take the normal
path, :meth:`finish`). :meth:`next_trials` hands out several at once, for an executor that trains
a pack of trials together. Writes are O(1) per trial; the searcher's state is checkpointed every
``checkpoint_every`` outcomes and when the study closes, together with the number of proposals
asked. A process killed between checkpoints loses nothing: its finished trials are in the store,
its pending ones are re-run, and the restored searcher's repeated proposals are answered from the
store — nothing is evaluated twice.

With successive halving (``halving``: a :class:`~actsearch.search.loop.halving.Ladder`) the study
keeps the rung scores recorded so far in this run — rebuilt from the stored rows when it opens,
updated as its search trials complete — and hands each new one-seed search trial (a rerun of one
too) a :class:`~actsearch.search.loop.halving.Cut`: the thresholds at that moment. References and
rescores are never cut. A trial stopped at a rung is stored once, status ``stopped``, with its
rung score, and the searcher is told ``Outcome(rung score, STOPPED)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from actsearch.errors import UserError
from actsearch.evaluators.result import INVALID, Status
from actsearch.results.records import CandidateRecord, Role, TrialState
from actsearch.results.store import RunStoreError, Store
from actsearch.search.loop.halving import Ladder
from actsearch.search.loop.jobs import JobSource, ReferenceSource, RerunSource, RescoreSource
from actsearch.search.loop.trials import StudyEvent, TaskSpec, TrialConfig, TrialEvent, seed_list
from actsearch.search.searchers.base import FINISHED, WAIT, Outcome, Proposal, Searcher
from actsearch.search.space.dedup import analyse

CHECKPOINT_EVERY = 25  # searcher outcomes between two checkpoints of its state


@dataclass
class _Row:
    """The loop's memory of one stored non-alias row of its task."""

    id: int
    expression: str
    done: bool
    score: float | None
    status: Status
    trivial: bool = False


class Study:
    """One search over one store, task and role (see the module docstring)."""

    def __init__(self, store: Store, *, task: Any, settings: dict[str, Any] | None = None,
                 searcher: Searcher | str | type[Searcher] | None = None, searcher_name: str | None = None,
                 space: Any = None, seed: int = 0, budget: int = 0,
                 seeds: int | Sequence[int] = 1, role: Role | str = Role.SEARCH, references: tuple[str, ...] = (),
                 screen: Any = None, threads: int = 1, time_limit_s: float | None = None,
                 on_event: Callable[[StudyEvent], None] | None = None,
                 checkpoint_every: int = CHECKPOINT_EVERY, halving: Ladder | None = None) -> None:
        """``task``: a reference or a task object (named by its module or file); ``searcher``: a
        Searcher, or a name or class built over ``space`` with ``seed``; ``halving``: successive
        halving's ladder over the task's checkpoints (None: every trial trains in full)."""
        if searcher is not None and not isinstance(searcher, Searcher):
            from actsearch.search.searchers import make_searcher

            if space is None:
                raise UserError("Study: a searcher given by name or class needs space= (a Space, preset or TOML file)")
            searcher = make_searcher(searcher, space, seed=seed)
        if not isinstance(task, str):
            from actsearch.evaluators.resolve import reference_of

            task = reference_of(task, "Study")
        self.store, self.searcher, self.role = store, searcher, Role(role)
        self.task, self.settings = task, dict(settings or {})
        self.ref = TaskSpec.of(task, self.settings)
        self.name = searcher_name or (searcher.name if searcher is not None else None)
        self.budget, self.seeds = budget, seed_list(seeds)
        self.screen, self.threads, self.time_limit_s = screen, threads, time_limit_s
        self.halving = halving
        self.on_event, self.checkpoint_every = on_event, checkpoint_every
        self.state_key = f"searcher:{self.name}"
        self.failure: UserError | None = None  # a failed write or AllRejected ends the study with this error
        self.new = 0  # trials finished by this process
        self.inflight: dict[int, TrialConfig] = {}  # row id -> config handed out, not finished
        self.waiting: dict[int, list[int]] = {}  # row id -> proposal ids told when it finishes
        self.searcher_done = searcher is None
        self._since_checkpoint = 0
        self.max_rejected: int | None = None  # pre-screen rejections in a row before it stops (AllRejected)
        self.rejected_in_row = 0
        self._timings_base: dict[str, Any] | None = None  # the metadata's timings when this process began
        self._load(references)

    # -- opening -----------------------------------------------------------------------------------
    def _load(self, references: tuple[str, ...]) -> None:
        rows = self.store.candidates(task=self.task, settings=self.settings, include_pending=True)
        self.rows: dict[str, _Row] = {}  # fingerprint -> row (this role)
        self.texts: dict[tuple[str, str], int] = {}  # (fingerprint, text) -> row id it belongs to
        self.evaluated = 0
        self.next_number = self.store.last_trial() + 1
        for r in rows:  # this role's rows (a search's references are rows of their own role)
            if r.role != self.role:
                continue
            target = r.alias_of if r.alias_of is not None else r.id
            self.texts[(r.fingerprint, r.expression)] = target
            if r.alias_of is not None or r.reference is not None:
                continue
            done = r.state == TrialState.DONE
            self.rows[r.fingerprint] = _Row(r.id, r.expression, done, r.score, r.status,
                                            trivial=r.trial is None and r.status == INVALID and done)
            if done and r.trained:
                self.evaluated += 1
                if self.halving is not None:
                    self.halving.record_runs(r.runs)
        self.rescoring = RescoreSource()
        self.references = ReferenceSource.of(references, rows, self.role)
        self.reruns = RerunSource.of(rows, self.role)
        self.sources: list[JobSource] = [self.rescoring, self.references, self.reruns]  # in priority order
        self.asked = 0
        if self.searcher is not None:
            self.searcher.attach(self.known)
            saved = self.store.load_state(self.state_key)
            if saved is not None:
                try:
                    self.searcher.load_state(saved["searcher"])
                    self.asked = int(saved["asked"])
                except UserError:
                    raise
                except (KeyError, IndexError, TypeError, ValueError, AttributeError, ArithmeticError,
                        RuntimeError) as err:  # a damaged or crafted checkpoint: one line naming it
                    raise RunStoreError(f"the stored searcher state {self.state_key!r} does not decode "
                                        f"({type(err).__name__}); this run cannot be resumed with it (its stored "
                                        "results still read)") from None
        if self.searcher is None:
            return
        checkpoint = self.asked
        mine = [r for r in rows if r.role == self.role and r.searcher == self.name and r.step is not None
                and r.alias_of is None]
        # proposal ids stay unique: asks after the checkpoint (lost with the process) are not reused
        self.asked = max([checkpoint, *(r.step + 1 for r in mine)])
        for r in mine:  # what the restored searcher asked before its checkpoint and was not told yet
            if r.step >= checkpoint:
                continue
            if r.state != TrialState.DONE:  # still to run: told when it finishes
                self.waiting.setdefault(r.id, []).append(r.step)
            elif r.trained:  # finished after the checkpoint (telling a told id again is a no-op)
                self.searcher.tell(r.step, Outcome(r.score, r.status))

    def known(self, fingerprint: str) -> bool:
        """Whether the run holds ``fingerprint`` (stored, pending or untrained): the searcher's view."""
        return fingerprint in self.rows

    # -- the state of the study ----------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        if self.failure is not None:
            return True
        busy = self.inflight or any(source.has_work for source in self.sources)
        return not busy and (self.searcher_done or self.evaluated >= self.budget)

    def add_source(self, source: JobSource, first: bool = False) -> None:
        """Bring a pipeline's own work: ``source`` is asked after the study's own sources (before
        them with ``first``), and always before the searcher."""
        self.sources.insert(0 if first else len(self.sources), source)

    def rescore(self, rows: list[CandidateRecord], seeds: int | Sequence[int]) -> None:
        """Queue the missing seeds (``seeds``: 0 .. seeds-1, or the given list) of stored rows on the
        rescoring source; results merge into the rows in place."""
        self.rescoring.add(rows, seeds)

    # -- handing out trials ------------------------------------------------------------------------
    def next_trial(self) -> TrialConfig | object:
        """The next trial to run, ``WAIT`` (until a running one finishes) or ``FINISHED``."""
        if self.failure is not None:
            return FINISHED
        try:
            config = self._next()
        except UserError as err:  # a failed write, AllRejected: the study ends with this error
            self.failure = err
            return FINISHED
        if isinstance(config, TrialConfig):
            self.inflight[config.key] = config
        return config

    def next_trials(self, limit: int) -> list[TrialConfig] | object:
        """Up to ``limit`` trials to run together (a pack), or ``WAIT`` / ``FINISHED`` when there is
        none now. A pack ends early where the searcher waits or the budget is reached."""
        pack: list[TrialConfig] = []
        while len(pack) < max(1, limit):
            config = self.next_trial()
            if not isinstance(config, TrialConfig):
                return pack or config
            pack.append(config)
        return pack

    def trial_config(self, key: int, expression: str, fingerprint: str, params: dict[str, float], *,
                     seeds: tuple[int, ...] | None = None, reference: str | None = None,
                     cut: bool = False) -> TrialConfig:
        """The config of a trial of this study's task (its seeds unless ``seeds``) for the stored row
        ``key``; with ``cut``, under halving, a one-seed trial gets the rung thresholds of now."""
        seeds = seeds or self.seeds
        held = None
        if cut and self.halving is not None and len(seeds) == 1 and reference is None:
            held = self.halving.cut()
        return TrialConfig(key, expression, fingerprint, self.ref, seeds, dict(params), reference,
                           self.threads, self.time_limit_s, held)

    def _next(self) -> TrialConfig | object:
        for source in self.sources:
            config = source.next(self)
            if config is not None:
                return config
        while not self.searcher_done and self.evaluated + self._trials_inflight() < self.budget:
            proposal = self.searcher.ask(self.asked)
            if proposal is WAIT:
                break
            if proposal is FINISHED:
                self.searcher_done = True
                break
            pid, self.asked = self.asked, self.asked + 1
            config = self._classify(pid, proposal)
            if config is not None:
                return config
        return WAIT if self.inflight else FINISHED

    def _owner(self, key: int) -> JobSource | None:
        return next((source for source in self.sources if source.owns(key)), None)

    def _trials_inflight(self) -> int:
        """The trials in flight that count against the search budget (a source's where it says so)."""
        return sum(source.counts(c) if (source := self._owner(k)) is not None else c.reference is None
                   for k, c in self.inflight.items())

    @property
    def reference_role(self) -> Role:
        """The role of the references' rows (``reference`` in a search)."""
        return Role.REFERENCE if self.role == Role.SEARCH else self.role

    def trial_number(self) -> int:
        """A new trial number (the run's next)."""
        self.next_number += 1
        return self.next_number - 1

    def _classify(self, pid: int, p: Proposal) -> TrialConfig | None:
        """A new trial for the proposal, or None when it was answered without one."""
        fp, trivial = analyse(p.expression, p.params)
        row = self.rows.get(fp)
        if row is not None:
            if self.texts.get((fp, p.expression)) == row.id and p.expression == row.expression and not row.trivial:
                if row.done:  # asked again (a resumed searcher): answered from the store
                    self._tell(pid, Outcome(row.score, row.status))
                else:
                    self.waiting.setdefault(row.id, []).append(pid)
                return None
            if (fp, p.expression) not in self.texts and not row.trivial:
                self.texts[(fp, p.expression)] = row.id
                self.store.record_alias(p.expression, row.id)
            self._tell(pid, Outcome(None, INVALID if row.trivial else row.status, skipped=True))
            return None
        common = {"task": self.task, "settings": self.settings, "role": self.role, "params": p.params,
                  "searcher": self.name, "step": pid}
        if trivial:
            row_id = self.store.record_invalid(p.expression, fp, trivial, **common)
            self._remember(fp, p.expression, _Row(row_id, p.expression, True, 0.0, INVALID, trivial=True))
            self._tell(pid, Outcome(None, INVALID, skipped=True))
            return None
        why = self.screen(p.activation()) if self.screen is not None else None
        if why is not None and self.max_rejected is None:
            from actsearch.search.screening import prescreen

            self.max_rejected = prescreen.MAX_REJECTED_IN_ROW
        if why is not None and self.rejected_in_row + 1 >= self.max_rejected:
            from actsearch.search.screening.prescreen import AllRejected

            raise AllRejected(f"stopped: the pre-screen rejected the last {self.rejected_in_row + 1} proposals in a "
                              f"row (last: {why.removeprefix('pre-screen: ')}); check the task settings, or run "
                              "with --no-prescreen")
        self.rejected_in_row = 0 if why is None else self.rejected_in_row + 1
        if why is not None:
            row_id = self.store.record_invalid(p.expression, fp, why, **common)
            self._remember(fp, p.expression, _Row(row_id, p.expression, True, 0.0, INVALID))
            self._tell(pid, Outcome(None, INVALID))
            self.event(StudyEvent(p.expression, self.role, INVALID, 0.0, 0.0, self.evaluated, self.budget,
                                   prescreen=why))
            return None
        metrics = {}
        if p.prediction is not None:
            metrics = {"predicted": p.prediction.mean, "predicted_spread": p.prediction.spread}
        row_id = self.store.add_trial(p.expression, fp, trial=self.trial_number(), metrics=metrics, seeds=self.seeds,
                                      **common)
        self._remember(fp, p.expression, _Row(row_id, p.expression, False, None, Status.PENDING))
        self.waiting[row_id] = [pid]
        return self.trial_config(row_id, p.expression, fp, p.params, cut=True)

    def _remember(self, fp: str, text: str, row: _Row) -> None:
        self.rows[fp] = row
        self.texts[(fp, text)] = row.id

    # -- outcomes ----------------------------------------------------------------------------------
    def started(self, config: TrialConfig) -> None:
        """An executor took the trial."""
        source = self._owner(config.key)
        if source is None:
            return self._guard(self.store.set_running, config.key)
        self._guard(source.started, self, config)

    def complete(self, event: TrialEvent) -> None:
        """Store a finished trial and tell the searcher."""
        if self.failure is not None:
            return
        self._guard(self._complete, event)

    def _guard(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        except RunStoreError as err:  # e.g. the disk filled up: stop handing out trials
            self.failure = err

    def _complete(self, event: TrialEvent) -> None:
        config = self.inflight.pop(event.config.key, event.config)
        source = self._owner(config.key)
        if source is None:
            return self.finish(event, config)
        source.complete(self, event, config)

    def finish(self, event: TrialEvent, config: TrialConfig) -> None:
        """The normal path of a finished trial: ``store.finish``, the searcher told where the row is one
        of its proposals, a :class:`StudyEvent`."""
        key, result = config.key, event.result
        if event.node:
            result.metrics["node"] = event.node
        with self.store.transaction():
            self.store.finish(key, result, status=event.status, canonical=event.canonical, retries=event.retries)
            row = self.rows.get(config.fingerprint)
            is_ref = config.reference is not None
            if not is_ref and row is not None and row.id == key:
                row.done, row.score, row.status = True, result.score, event.status
                self.evaluated += 1
                if self.halving is not None:
                    self.halving.record_runs(r.to_dict() for r in result.runs)
                self.new += 1
                for pid in self.waiting.pop(key, []):
                    self._tell(pid, Outcome(result.score, event.status))
                self._checkpoint(force=False)
        role = self.reference_role if is_ref else self.role
        self.event(StudyEvent(config.expression, role, event.status, result.score, result.score_std,
                               self.evaluated, self.budget, event.retries))

    def _tell(self, pid: int, outcome: Outcome) -> None:
        if self.searcher is not None:
            self.searcher.tell(pid, outcome)
            self._since_checkpoint += 1

    def _checkpoint(self, force: bool) -> None:
        if self.searcher is None or not (force or self._since_checkpoint >= self.checkpoint_every):
            return
        self.store.save_state(self.state_key, {"searcher": self.searcher.state(), "asked": self.asked})
        self._since_checkpoint = 0
        self._save_timings()

    def _save_timings(self) -> None:
        """The run's set-up seconds in its metadata (:func:`~actsearch.results.timings.store_setup`)."""
        from actsearch.results.timings import store_setup

        self._timings_base = store_setup(self.store, self._timings_base,
                                         float(getattr(self.searcher, "setup_s", 0.0) or 0.0),
                                         float(getattr(self.screen, "seconds", 0.0) or 0.0),
                                         self.name, getattr(self.searcher, "setup", None))

    def event(self, event: StudyEvent) -> None:
        """Hand ``event`` to ``on_event``."""
        if self.on_event is not None:
            self.on_event(event)

    def close(self) -> None:
        """Checkpoint the searcher (the study can be reopened on the same store)."""
        if self.failure is None:
            self._guard(self._checkpoint, True)

