"""Job sources: the work a :class:`~actsearch.search.loop.study.Study` hands out before its
searcher's proposals.

A :class:`JobSource` holds its own queue. The study asks its sources in order (its list,
:meth:`Study.add_source <actsearch.search.loop.study.Study.add_source>`) and the first one with a
trial ready hands it out; the searcher is asked only when none has. A source answers:

- :meth:`~JobSource.next`: the next trial (a :class:`~actsearch.search.loop.trials.TrialConfig`
  whose row is stored), or None when it has nothing to hand out now;
- :attr:`~JobSource.has_work`: whether it still has work (the study is not finished while any has);
- :meth:`~JobSource.owns`: whether an in-flight key is one it handed out;
- :meth:`~JobSource.counts`: whether one of its trials counts against the search budget;
- :meth:`~JobSource.started` and :meth:`~JobSource.complete`: an executor took / finished one of
  its trials. The default is the study's normal path (``store.set_running``; :meth:`Study.finish`:
  ``store.finish``, the searcher told where the row is one of its proposals, a ``StudyEvent``).

The three a study always holds, in priority order: :class:`RescoreSource` (extra seeds of stored
rows, merged into them with ``store.add_runs``), :class:`ReferenceSource` (library functions the
run does not hold yet) and :class:`RerunSource` (rows a previous process left pending or running).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from actsearch.results.records import CandidateRecord, Role, TrialState
from actsearch.search.loop.trials import StudyEvent, TrialConfig, TrialEvent, seed_list

if TYPE_CHECKING:
    from actsearch.search.loop.study import Study


class JobSource(ABC):
    """Work a study runs before its searcher's proposals (see the module docstring). A subclass
    implements :meth:`next` and :attr:`has_work`, and passes what it hands out through :meth:`hand`."""

    def __init__(self) -> None:
        self.running: set[int] = set()  # keys handed out, not finished

    @abstractmethod
    def next(self, study: Study) -> TrialConfig | None:
        """The next trial to run (its row stored), or None when there is none now."""

    @property
    @abstractmethod
    def has_work(self) -> bool:
        """Whether trials are still to come from this source (those in flight aside)."""

    def hand(self, config: TrialConfig) -> TrialConfig:
        """Record ``config`` as handed out by this source."""
        self.running.add(config.key)
        return config

    def owns(self, key: int) -> bool:
        return key in self.running

    def counts(self, config: TrialConfig) -> bool:
        """Whether the trial counts against the search budget (a searcher's new trial does)."""
        return False

    def started(self, study: Study, config: TrialConfig) -> None:
        study.store.set_running(config.key)

    def complete(self, study: Study, event: TrialEvent, config: TrialConfig) -> None:
        self.running.discard(config.key)
        study.finish(event, config)


@dataclass(frozen=True)
class RescoreJob:
    """Seeds to add to a stored row."""

    row: CandidateRecord
    seeds: tuple[int, ...]  # the seeds it misses


class RescoreSource(JobSource):
    """Extra seeds of stored rows: each finished trial merges its runs into the row in place."""

    def __init__(self) -> None:
        super().__init__()
        self.todo: list[RescoreJob] = []
        self.adding: dict[int, tuple[int, ...]] = {}  # row id -> seeds being added

    def add(self, rows: Iterable[CandidateRecord], seeds: int | Sequence[int]) -> None:
        """Queue the seeds (0 .. seeds-1, or the given list) each row misses."""
        for r in rows:
            missing = tuple(s for s in seed_list(seeds) if s not in r.seeds)
            if missing:
                self.todo.append(RescoreJob(r, missing))

    @property
    def queued(self) -> tuple[RescoreJob, ...]:
        """The jobs not handed out yet, in order."""
        return tuple(self.todo)

    @property
    def has_work(self) -> bool:
        return bool(self.todo)

    def next(self, study: Study) -> TrialConfig | None:
        if not self.todo:
            return None
        job = self.todo.pop(0)
        rec = job.row
        self.adding[rec.id] = job.seeds
        return self.hand(study.trial_config(rec.id, rec.expression, rec.fingerprint, rec.params, seeds=job.seeds,
                                            reference=rec.reference))

    def started(self, study: Study, config: TrialConfig) -> None:
        """The row stays done while seeds are added."""

    def complete(self, study: Study, event: TrialEvent, config: TrialConfig) -> None:
        self.running.discard(config.key)
        seeds = self.adding.pop(config.key)
        rec = study.store.add_runs(config.key, event.result, seeds)
        study.event(StudyEvent(rec.expression, rec.role, rec.status, rec.score, rec.score_std, study.evaluated,
                               study.budget, event.retries, rescored=len(rec.seeds)))


class ReferenceSource(JobSource):
    """Library functions the run does not hold yet: a row each (a reference of the run), then its trial."""

    def __init__(self, names: Iterable[str], stored: Iterable[str] = ()) -> None:
        super().__init__()
        held = set(stored)
        self.names = [name for name in names if name not in held]

    @classmethod
    def of(cls, names: Iterable[str], rows: Iterable[CandidateRecord], role: Role) -> ReferenceSource:
        """The references ``names`` that the stored ``rows`` of a study of ``role`` do not hold yet."""
        return cls(names, (r.reference for r in rows if _held(r, role) and r.reference is not None))

    @property
    def has_work(self) -> bool:
        return bool(self.names)

    def next(self, study: Study) -> TrialConfig | None:
        if not self.names:
            return None
        name = self.names.pop(0)
        text, fp = reference_form(name)
        key = study.store.add_trial(text, fp, task=study.task, settings=study.settings, role=study.reference_role,
                                    trial=study.trial_number(), reference=name, searcher="reference",
                                    seeds=study.seeds)
        return self.hand(study.trial_config(key, text, fp, {}, reference=name))


class RerunSource(JobSource):
    """Rows a previous process left pending or running, run again (as the searcher's trials count;
    under halving a search row is cut as a new trial is)."""

    def __init__(self, rows: Iterable[CandidateRecord] = ()) -> None:
        super().__init__()
        self.rows = list(rows)

    @classmethod
    def of(cls, rows: Iterable[CandidateRecord], role: Role) -> RerunSource:
        """The stored ``rows`` of a study of ``role`` (its references too) not done, in order."""
        return cls(r for r in rows if _held(r, role) and r.state != TrialState.DONE)

    @property
    def has_work(self) -> bool:
        return bool(self.rows)

    def clear(self) -> None:
        """Forget the rows still queued (an executor that runs them itself)."""
        self.rows.clear()

    def next(self, study: Study) -> TrialConfig | None:
        if not self.rows:
            return None
        r = self.rows.pop(0)
        return self.hand(study.trial_config(r.id, r.expression, r.fingerprint, r.params, reference=r.reference,
                                            cut=r.role == study.role))

    def counts(self, config: TrialConfig) -> bool:
        return config.reference is None


def _held(r: CandidateRecord, role: Role) -> bool:
    """Whether a study of ``role`` holds the stored row ``r`` as its own: a reference of a search (a
    role of its own), or one of its role's rows that is not an alias."""
    return (r.role == Role.REFERENCE and role == Role.SEARCH) or (r.role == role and r.alias_of is None)


def reference_form(name: str) -> tuple[str, str]:
    """The stored text and fingerprint of the library function ``name`` as a reference (a
    module-only one, with no expression, keeps its name and ``library:NAME``)."""
    from actsearch.grammar.library import LibraryError, resolve

    try:
        act = resolve(name)
    except LibraryError:
        return name, f"library:{name}"
    return act.text, act.fingerprint
