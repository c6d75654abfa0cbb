"""The bookkeeping of a search run: which trial comes next, and what to store when one ends.

``Bookkeeper`` is the ``TrialSource`` that :func:`actsearch.search.tune.run_trials` drives. It
hands out, in order: the references not yet stored, the proposals a previous driver left
*pending*, then the searcher's proposals until the budget (evaluated search candidates in the
store plus those in flight) is reached. Each proposal is stored as pending together with the
searcher's snapshot before its trial starts; its result replaces it together with the next
snapshot, so a killed driver loses nothing and repeats nothing. A proposal whose fingerprint is
already stored is answered from the store. Aliases and trivial candidates the searcher skips are
stored without training. When the run pre-screens (``spec.screens()``), a proposal the pre-screen
rejects is stored ``invalid`` with the reason (no trial id, so the budget does not count it) and
fed back to the searcher as a failure, without a trial. The ``PreScreen`` is built once, on the
first proposal; a searcher that screens its own candidates (``searcher.prescreen``, the
``surrogate``) flags them in ``proposal.info["prescreen"]`` instead. A proposal's predicted score
(``info["predicted"]``, ``info["spread"]``) is stored in its row's ``metrics`` as ``predicted``
and ``predicted_spread``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from actsearch.errors import UserError
from actsearch.evaluators.result import INVALID, CandidateResult
from actsearch.results.store import STOPPED, RunStore, RunStoreError
from actsearch.search.prescreen import AllRejected, ProposalScreen
from actsearch.search.searchers.base import FINISHED, WAIT, Proposal

if TYPE_CHECKING:
    from actsearch.search.run import SearchSpec


class Bookkeeper:
    """The ``TrialSource`` of a run: references, pending re-runs, then searcher proposals."""

    def __init__(self, store: RunStore, spec: SearchSpec, searcher: Any,
                 on_result: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.store, self.spec, self.searcher = store, spec, searcher
        self.on_result = on_result
        self.task = spec.task
        self.seeds = list(range(spec.seeds))
        self.state_key = f"searcher:{spec.searcher}"
        self.stored = store.fingerprints(task=self.task, role="search")
        self.scores = {r.fingerprint: (r.score, r.status) for r in store.candidates(task=self.task, role="search")}
        self.refs = [r for r in spec.references
                     if f"library:{r}" not in store.fingerprints(task=self.task, role="reference")]
        self.refs_running: set[str] = set()
        self.rerun = store.pending(task=self.task, role="search")
        self.inflight: dict[str, dict[str, Any]] = {p["trial_id"]: p for p in self.rerun}
        self.searcher_done = False
        self.new = 0
        self.screen = ProposalScreen(searcher, self._probe_task) if spec.screens() else None
        self.failure: UserError | None = None  # a failed write or AllRejected ends the run with this error

    # budget bookkeeping
    @property
    def evaluated(self) -> int:
        return self.store.count(task=self.task, role="search")

    @property
    def finished(self) -> bool:
        done = self.evaluated >= self.spec.budget or (self.searcher_done and not self.inflight)
        return done and not self.refs and not self.refs_running

    def _config(self, expression: str, fingerprint: str, params: dict[str, float], **extra: Any) -> dict[str, Any]:
        return {"expression": expression, "fingerprint": fingerprint, "params": params, "task": self.task,
                "task_overrides": self.spec.task_overrides, "seeds": self.seeds,
                "threads": max(1, int(self.spec.cpus_per_trial)), "time_limit_s": self.spec.time_limit_s, **extra}

    def next_config(self) -> dict[str, Any] | object:
        if self.failure is not None:
            return FINISHED
        try:
            return self._next_config()
        except (RunStoreError, AllRejected) as err:
            self.failure = err
            return FINISHED

    def _next_config(self) -> dict[str, Any] | object:
        if self.refs:
            name = self.refs.pop(0)
            self.refs_running.add(name)
            return self._config(_library_text(name), f"library:{name}", {}, library=name, role="reference",
                                trial_id=f"ref:{name}")
        if self.rerun:
            p = self.rerun.pop(0)
            return self._config(p["expression"], p["fingerprint"], p.get("params") or {}, role="search",
                                trial_id=p["trial_id"])
        while not self.searcher_done and self.evaluated + len(self.inflight) < self.spec.budget:
            proposal = self.searcher.suggest()
            skipped = getattr(self.searcher, "pop_skipped", list)()
            if proposal is WAIT:
                self._store_skipped(skipped)
                return WAIT
            if proposal is FINISHED:
                self.searcher_done = True
                self._store_skipped(skipped)
                break
            if proposal.fingerprint in self.stored:  # already evaluated (e.g. before a crash): reuse it
                score, status = self.scores.get(proposal.fingerprint, (None, "error"))
                self.searcher.on_trial_complete(proposal.trial_id, score=score, status=status)
                self._store_skipped(skipped)
                continue
            why = self.screen(proposal) if self.screen is not None else None
            if why is not None:
                self._reject(proposal, why, skipped)
                continue
            self._dispatch(proposal, skipped)
            return self._config(proposal.expression, proposal.fingerprint, proposal.params, role="search",
                                trial_id=proposal.trial_id)
        return WAIT if self.inflight or self.refs_running else FINISHED

    def _probe_task(self) -> Any:
        from actsearch.search.run import probe_task

        return probe_task(self.spec)

    def _reject(self, proposal: Proposal, why: str, skipped: list[dict[str, Any]]) -> None:
        self.searcher.on_trial_complete(proposal.trial_id, score=None, status=INVALID)
        with self.store.transaction():
            self._store_skipped(skipped)
            row = self.store.record_invalid(proposal.expression, proposal.fingerprint, why, task=self.task,
                                            params=proposal.params, searcher=self.spec.searcher,
                                            step=_step(proposal.trial_id),
                                            state=(self.state_key, self.searcher.state()))
        self.stored[proposal.fingerprint] = row
        self.scores[proposal.fingerprint] = (0.0, INVALID)
        if self.on_result is not None:
            self.on_result({"expression": proposal.expression, "role": "search", "status": INVALID, "score": 0.0,
                            "score_std": 0.0, "retries": 0, "evaluated": self.evaluated,
                            "budget": self.spec.budget, "prescreen": why})

    def _dispatch(self, proposal: Proposal, skipped: list[dict[str, Any]]) -> None:
        entry = {"expression": proposal.expression, "fingerprint": proposal.fingerprint,
                 "params": proposal.params, "aliases": []}
        for key, name in (("predicted", "predicted"), ("spread", "predicted_spread")):
            if proposal.info.get(key) is not None:
                entry[name] = proposal.info[key]
        self.inflight[proposal.trial_id] = entry
        with self.store.transaction():
            self._store_skipped(skipped)
            self.store.add_pending(proposal.trial_id, entry, task=self.task, role="search",
                                   state=(self.state_key, self.searcher.state()))

    def _store_skipped(self, skipped: list[dict[str, Any]]) -> None:
        """Store aliases (with their evaluated twin) and trivial candidates (as invalid)."""
        if not skipped:
            return
        with self.store.transaction():
            for rec in skipped:
                fp = rec["fingerprint"]
                if rec["status"] == "invalid":
                    if fp not in self.stored:
                        self.stored[fp] = self.store.record_invalid(
                            rec["expression"], fp, rec.get("reason") or "invalid", task=self.task,
                            params=rec.get("params"), searcher=self.spec.searcher)
                elif fp in self.stored:
                    self.store.record_alias(rec["expression"], self.stored[fp])
                else:
                    twin = next((t for t, e in self.inflight.items() if e["fingerprint"] == fp), None)
                    if twin is not None:
                        self.inflight[twin]["aliases"].append(rec["expression"])
                        self.store.add_pending(twin, self.inflight[twin], task=self.task, role="search")

    def complete(self, config: dict[str, Any], result: dict[str, Any] | None, error: bool, retries: int) -> None:
        if self.failure is not None:
            return
        try:
            self._complete(config, result, error, retries)
        except RunStoreError as err:  # e.g. the disk filled up: stop handing out trials, report after fit()
            self.failure = err

    def _complete(self, config: dict[str, Any], result: dict[str, Any] | None, error: bool, retries: int) -> None:
        cand, status = _decode(result, error)
        if result and result.get("node"):
            cand.metrics["node"] = result["node"]
        trial_id, role = config["trial_id"], config["role"]
        kw = {"task": self.task, "role": role, "canonical": (result or {}).get("canonical"),
              "params": config["params"], "seeds": self.seeds, "retries": retries, "status": status,
              "trial_id": trial_id}
        if role == "reference":
            self.refs_running.discard(config["library"])
            self.store.record(config["expression"], config["fingerprint"], cand, searcher="reference", **kw)
        else:
            entry = self.inflight.pop(trial_id, None) or {"aliases": []}
            for key in ("predicted", "predicted_spread"):
                if key in entry:
                    cand.metrics[key] = entry[key]
            self.searcher.on_trial_complete(trial_id, score=cand.score, status=status)
            row = self.store.record(config["expression"], config["fingerprint"], cand, searcher=self.spec.searcher,
                                    step=_step(trial_id), aliases=entry.get("aliases", []),
                                    state=(self.state_key, self.searcher.state()), **kw)
            self.stored[config["fingerprint"]] = row
            self.scores[config["fingerprint"]] = (cand.score, status)
            self.new += 1
        if self.on_result is not None:
            self.on_result({"expression": config["expression"], "role": role, "status": status,
                            "score": cand.score, "score_std": cand.score_std, "retries": retries,
                            "evaluated": self.evaluated, "budget": self.spec.budget})


def _step(trial_id: str) -> int | None:
    return int(trial_id[1:]) if re.fullmatch(r"t\d+", trial_id) else None


def _library_text(name: str) -> str:
    try:
        from actsearch.grammar.library import expression

        return expression(name) or name
    except (ImportError, AttributeError, KeyError, ValueError):
        return name


def _decode(result: dict[str, Any] | None, error: bool) -> tuple[CandidateResult, str]:
    """The CandidateResult of a finished trial; a trial stopped early (ASHA) or lost keeps its last score."""
    if result and result.get("candidate"):
        cand = CandidateResult.from_dict(json.loads(result["candidate"]))
        return cand, cand.status
    if error or not result:
        return CandidateResult(status="error", score=0.0, score_std=0.0, error="trial failed in Ray"), "error"
    score = float(result.get("score", 0.0))
    return CandidateResult(status=STOPPED, score=score, score_std=0.0,
                           error=f"stopped early at report {result.get('iteration')}"), STOPPED
