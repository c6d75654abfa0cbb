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

What a study hands out, in order: rescore jobs (:meth:`rescore`), references not stored yet,
trials a previous process left pending or running, then the searcher's proposals until the
budget (finished trials + trials in flight) is reached; :meth:`next_trials` hands out several at
once, for an executor that trains a pack of trials together. Writes are O(1) per trial; the searcher's
state is checkpointed every ``checkpoint_every`` outcomes and when the study closes, together
with the number of proposals asked. A process killed between checkpoints loses nothing: its
finished trials are in the store, its pending ones are re-run, and the restored searcher's
repeated proposals are answered from the store — nothing is evaluated twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from actsearch.errors import UserError
from actsearch.evaluators.result import INVALID, Status
from actsearch.results.records import CandidateRecord, Role, TrialState
from actsearch.results.store import RunStoreError, Store
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
                 screen: Any = None,
                 threads: int = 1, time_limit_s: float | None = None,
                 on_event: Callable[[StudyEvent], None] | None = None,
                 checkpoint_every: int = CHECKPOINT_EVERY) -> None:
        """``task``: a reference or a task object (named by its module or file); ``searcher``: a
        Searcher, or a name or class built over ``space`` with ``seed``."""
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
        self.on_event, self.checkpoint_every = on_event, checkpoint_every
        self.state_key = f"searcher:{self.name}"
        self.failure: UserError | None = None  # a failed write or AllRejected ends the study with this error
        self.new = 0  # trials finished by this process
        self.inflight: dict[int, TrialConfig] = {}  # row id -> config handed out, not finished
        self.waiting: dict[int, list[int]] = {}  # row id -> proposal ids told when it finishes
        self.rescoring: dict[int, tuple[int, ...]] = {}  # row id -> seeds being added
        self.rescore_todo: list[tuple[CandidateRecord, tuple[int, ...]]] = []
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
        stored_refs, self.rerun = set(), []
        self.evaluated = 0
        self.next_number = self.store.last_trial() + 1
        for r in rows:
            if r.role == Role.REFERENCE and self.role == Role.SEARCH:
                stored_refs.add(r.reference)
                if r.state != TrialState.DONE:
                    self.rerun.append(r)
                continue
            if r.role != self.role:
                continue
            target = r.alias_of if r.alias_of is not None else r.id
            self.texts[(r.fingerprint, r.expression)] = target
            if r.alias_of is not None:
                continue
            if r.reference is not None:
                stored_refs.add(r.reference)
            else:
                self.rows[r.fingerprint] = _Row(r.id, r.expression, r.state == TrialState.DONE, r.score, r.status,
                                                trivial=r.trial is None and r.status == INVALID
                                                and r.state == TrialState.DONE)
            if r.state != TrialState.DONE:
                self.rerun.append(r)
            elif r.trained and r.reference is None:
                self.evaluated += 1
        self.references = [name for name in references if name not in stored_refs]
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
        busy = self.rescore_todo or self.references or self.rerun or self.inflight
        return not busy and (self.searcher_done or self.evaluated >= self.budget)

    def rescore(self, rows: list[CandidateRecord], seeds: int | Sequence[int]) -> None:
        """Queue the missing seeds (``seeds``: 0 .. seeds-1, or the given list) of stored rows; results
        merge into the rows in place."""
        for r in rows:
            missing = tuple(s for s in seed_list(seeds) if s not in r.seeds)
            if missing:
                self.rescore_todo.append((r, missing))

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

    def _config(self, key: int, expression: str, fingerprint: str, params: dict[str, float], *,
                seeds: tuple[int, ...] | None = None, reference: str | None = None) -> TrialConfig:
        return TrialConfig(key, expression, fingerprint, self.ref, seeds or self.seeds, dict(params), reference,
                           self.threads, self.time_limit_s)

    def _next(self) -> TrialConfig | object:
        if self.rescore_todo:
            rec, seeds = self.rescore_todo.pop(0)
            self.rescoring[rec.id] = seeds
            return self._config(rec.id, rec.expression, rec.fingerprint, rec.params, seeds=seeds,
                                reference=rec.reference)
        if self.references:
            name = self.references.pop(0)
            text, fp = reference_form(name)
            role = Role.REFERENCE if self.role == Role.SEARCH else self.role
            key = self.store.add_trial(text, fp, task=self.task, settings=self.settings, role=role,
                                       trial=self._number(), reference=name, searcher="reference", seeds=self.seeds)
            return self._config(key, text, fp, {}, reference=name)
        if self.rerun:
            r = self.rerun.pop(0)
            return self._config(r.id, r.expression, r.fingerprint, r.params, reference=r.reference)
        while not self.searcher_done and self.evaluated + len(self._trials_inflight()) < self.budget:
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

    def _trials_inflight(self) -> list[int]:
        return [k for k, c in self.inflight.items() if k not in self.rescoring and c.reference is None]

    def _number(self) -> int:
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
            self._event(StudyEvent(p.expression, self.role, INVALID, 0.0, 0.0, self.evaluated, self.budget,
                                   prescreen=why))
            return None
        metrics = {}
        if p.prediction is not None:
            metrics = {"predicted": p.prediction.mean, "predicted_spread": p.prediction.spread}
        row_id = self.store.add_trial(p.expression, fp, trial=self._number(), metrics=metrics, seeds=self.seeds,
                                      **common)
        self._remember(fp, p.expression, _Row(row_id, p.expression, False, None, Status.PENDING))
        self.waiting[row_id] = [pid]
        return self._config(row_id, p.expression, fp, p.params)

    def _remember(self, fp: str, text: str, row: _Row) -> None:
        self.rows[fp] = row
        self.texts[(fp, text)] = row.id

    # -- outcomes ----------------------------------------------------------------------------------
    def started(self, config: TrialConfig) -> None:
        """An executor took the trial."""
        if config.key not in self.rescoring:
            self._guard(self.store.set_running, config.key)

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
        key, result = config.key, event.result
        if key in self.rescoring:
            seeds = self.rescoring.pop(key)
            rec = self.store.add_runs(key, result, seeds)
            self._event(StudyEvent(rec.expression, rec.role, rec.status, rec.score, rec.score_std, self.evaluated,
                                   self.budget, event.retries, rescored=len(rec.seeds)))
            return
        if event.node:
            result.metrics["node"] = event.node
        with self.store.transaction():
            self.store.finish(key, result, status=event.status, canonical=event.canonical, retries=event.retries)
            row = self.rows.get(config.fingerprint)
            is_ref = config.reference is not None
            if not is_ref and row is not None and row.id == key:
                row.done, row.score, row.status = True, result.score, event.status
                self.evaluated += 1
                self.new += 1
                for pid in self.waiting.pop(key, []):
                    self._tell(pid, Outcome(result.score, event.status))
                self._checkpoint(force=False)
        role = Role.REFERENCE if is_ref and self.role == Role.SEARCH else self.role
        self._event(StudyEvent(config.expression, role, event.status, result.score, result.score_std,
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
        """The run's set-up seconds in its metadata (``timings``): what earlier processes stored, plus
        this one's searcher set-up and pre-screen."""
        setup = float(getattr(self.searcher, "setup_s", 0.0) or 0.0)
        screen = float(getattr(self.screen, "seconds", 0.0) or 0.0)
        if not setup and not screen:
            return
        from actsearch.results.timings import with_setup

        if self._timings_base is None:
            self._timings_base = self.store.meta().get("timings") or {}
        out = with_setup(self._timings_base, setup, screen)
        if getattr(self.searcher, "setup", None):
            out["setup"] = {"searcher": self.name, **self.searcher.setup}
        self.store.init_run({"timings": out})

    def _event(self, event: StudyEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def close(self) -> None:
        """Checkpoint the searcher (the study can be reopened on the same store)."""
        if self.failure is None:
            self._guard(self._checkpoint, True)


def reference_form(name: str) -> tuple[str, str]:
    """The stored text and fingerprint of the library function ``name`` as a reference (a
    module-only one, with no expression, keeps its name and ``library:NAME``)."""
    from actsearch.grammar.library import LibraryError, resolve

    try:
        act = resolve(name)
    except LibraryError:
        return name, f"library:{name}"
    return act.text, act.fingerprint
