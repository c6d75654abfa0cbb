"""``surrogate``: a random forest on cheap features ranks the untrained candidates.

After Bingham & Miikkulainen's AQuaSurF (NeurIPS 2023): features of an activation that cost
milliseconds (:mod:`actsearch.search.screening.features`: shape, signal propagation at initialisation, and
a 20-step trainability proxy) predict what it scores after training. The searcher

1. builds a pool of distinct, non-trivial candidates — the whole deduplicated space when it is
   small (``raw_size <= pool_limit``), else ``pool_size`` uniform samples, grown by ``refresh``
   samples and mutations of the best trained ones at every refit;
2. proposes ``n_initial`` starting candidates: with ``init="proxy"`` (the default) each drawn at
   random from the best ``init_quantile`` (10 %) of the open pool by the trainability proxy
   ``proxy_loss`` (20 Adam steps, feature group (d)); with ``init="random"`` from the whole pool;
3. then fits a scikit-learn ``RandomForestRegressor`` on the trained candidates' features →
   score (a failure counts as the worst score so far: 0 for accuracies, the lowest z on a
   panel; ``base.with_failures``; a candidate stopped at a rung by successive halving counts with
   its rung score) and proposes the untrained candidate with the highest upper bound
   ``mean + kappa * spread`` over the forest's trees; with probability ``epsilon`` a random one.
   (Default kappa = 0, pure exploitation after the starts: on the x-gated replay table
   it beat kappa = 0.5 and 1; see ``benchmarks/results/bench_surrogate.json``.)
   Proposals made while trials run are the next ones down the same ranking (batches for parallel
   workers); the forest is refitted when new results have arrived — after every result at
   first, then when the results have grown by ``refit_growth`` (10 %) since the last fit.

Candidates the pre-screen (:mod:`actsearch.search.screening.prescreen`; on unless ``prescreen=False``)
rejects are proposed only after every other one (the loop's pre-screen, which reads the same
shared featuriser, then stores them ``invalid`` untrained, and the space is still covered before
``FINISHED``). Trivial candidates are never proposed. A model proposal carries a
``Prediction``: the forest's mean and spread for it before it trained (for a predicted-vs-real
column); ``predict(acts)`` gives the current forest's prediction for any candidates.
The set-up — the features of the whole pool, before the first proposal, in the driver — is priced
first against the search's ``budget`` (trainings: candidates × seeds, given by the run) and kept
within ``setup_share`` (25 %) of it (:mod:`actsearch.search.screening.setup`): when the full
features would cost more, the proxy runs on a random share of the pool only (it then only picks
the starts, and the forest sees the other features), or not at all, or — on a network whose every
forward pass is costly — only the shape features are computed. One line says which and how long it
should take (``surrogate: probing 320 candidates (~N min at M s each) ...``), a progress line
follows every ~10 s, and the measured seconds are ``setup_s`` / ``setup`` (the run stores them in
its metadata, key ``timings``).

Deterministic for a seed: the forest's seed derives from (seed, number of results), the pool's
from (seed, pool size, number of results), and the random stream's state is part of ``state()``.
The set-up's plan depends on measured seconds; it is chosen once and kept in ``state()``, and
without a ``budget`` (the searcher built directly) it is always the full one.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from actsearch.grammar import parse
from actsearch.search.screening.features import PROXY_STEPS, Featurizer, proxy_features, shared_featurizer
from actsearch.search.screening.prescreen import DEFAULT, reason
from actsearch.search.screening.setup import (
    PROGRESS_EVERY_S,
    SETUP_SHARE,
    Plan,
    Ticker,
    choose,
    measure,
    minutes,
    stderr_line,
    task_steps,
)
from actsearch.search.searchers.base import FINISHED, Prediction, Proposal, _Sentinel, with_failures
from actsearch.search.searchers.common import SpaceSearcher
from actsearch.search.space.dedup import analyse


class SurrogateSearcher(SpaceSearcher):
    """Random-forest surrogate on features, upper-confidence ranking, random starts."""

    name = "surrogate"

    def __init__(self, space: Any, *, seed: int = 0, task: Any = "mnist1d", n_initial: int = 5,
                 init: str = "proxy", init_quantile: float = 0.1,
                 kappa: float = 0.0, epsilon: float = 0.0, n_trees: int = 64, prescreen: bool = True,
                 pool_limit: int = 20000, pool_size: int = 500, refresh: int = 50, refit_growth: float = 0.1,
                 featurizer: Featurizer | None = None, budget: int | None = None,
                 setup_share: float = SETUP_SHARE) -> None:
        super().__init__(space, seed=seed)
        if init not in ("proxy", "random"):
            raise ValueError(f"init must be 'proxy' or 'random', not {init!r}")
        if isinstance(setup_share, bool) or not isinstance(setup_share, (int, float)) or not setup_share > 0:
            raise ValueError(f"setup_share must be a number > 0, not {setup_share!r}")
        if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 0):
            raise ValueError(f"budget must be a whole number of trainings >= 0, not {budget!r}")
        if not 0 < init_quantile <= 1:
            raise ValueError(f"init_quantile must be in (0, 1], not {init_quantile!r}")
        self.n_initial, self.kappa, self.epsilon, self.n_trees = n_initial, kappa, epsilon, n_trees
        self.init, self.init_quantile = init, init_quantile
        self.prescreen, self.pool_limit, self.pool_size, self.refresh = prescreen, pool_limit, pool_size, refresh
        self.refit_growth = refit_growth
        self.featurizer = featurizer if featurizer is not None else shared_featurizer(task)
        self.task, self.budget, self.setup_share = task, budget, float(setup_share)
        self.log: Callable[[str], None] = stderr_line  # set-up lines (one line each)
        self.progress_every_s = PROGRESS_EVERY_S  # seconds between two progress lines of the set-up
        self.setup_s = 0.0  # seconds this process spent featurising the pool
        self.setup: dict[str, Any] = {}  # the set-up's plan and measured seconds (Plan.as_dict)
        self._mode: str | None = None  # the plan's mode, once chosen (kept in state())
        self._model: Featurizer | None = None  # the forest's featuriser for that mode
        self._proxy: dict[str, float] = {}  # fp -> proxy loss, for the members the proxy ran on
        self._featurized = False  # this process has featurised the pool
        self._unjudged: set[str] = set()  # pool members whose pre-screen verdict is still to be computed
        self._pool: list[str] = []  # fingerprints of distinct non-trivial candidates, in pool order
        self._acts: dict[str, tuple[Any, Any, str | None]] = {}  # fp -> (candidate, Activation, rejection)
        self._results: list[tuple[str, float | None]] = []  # (fingerprint, score; None: failed) by completion
        self._ranking: list[str] | None = None
        self._pred: dict[str, tuple[float, float]] = {}  # fp -> (forest mean, spread) of the ranking
        self._ranked_at = -1  # number of results the current ranking was fitted on
        self._pool_built = False

    @property
    def large(self) -> bool:
        """Whether the space is sampled into a growing pool rather than enumerated whole."""
        return self.space.raw_size > self.pool_limit

    # -- pool --------------------------------------------------------------------------------------
    def _add(self, cand: Any, judge: bool = True) -> None:
        """Add a new candidate to the pool, with the pre-screen's verdict (``judge``; else later)."""
        text, params = self.space.to_text(cand)
        fp, trivial = analyse(text, params)
        if fp in self._acts or trivial or self.known(fp):  # trivial: constant, non-finite, zero gradient
            return
        act = parse(text, **params)
        self._join(cand, act, self._verdict(act) if judge else None)

    def _verdict(self, act: Any) -> str | None:
        """The pre-screen's reason to reject ``act`` (None: passes). The ``shape`` plan judges a member
        only when it is about to be proposed (one pass each, which the run's pre-screen reuses)."""
        if not self.prescreen:
            return None
        if self._mode == "shape":
            self._unjudged.add(act.fingerprint)
            return None
        return reason(self.model.initial_propagation(act), DEFAULT)

    def _join(self, cand: Any, act: Any, why: str | None) -> None:
        self._acts[act.fingerprint] = (cand, act, why)
        self._pool.append(act.fingerprint)

    def _build_pool(self) -> None:
        start = time.perf_counter()
        if self.large:
            self._grow(self.pool_size, judge=False)
        else:
            for cand in self.space.enumerate():
                self._add(cand, judge=False)
        self._pool_built = True
        self._featurize(judge=True, start=start)

    def _grow(self, n: int, judge: bool = True) -> None:
        pool_rng = random.Random(f"{self.seed}:{len(self._pool)}:{len(self._results)}")
        for _ in range(n):
            self._add(self.space.sample(pool_rng), judge)
        ok = [r for r in self._results if r[1] is not None]
        for fp, _ in sorted(ok, key=lambda r: -r[1])[:5]:  # around the best so far
            for _ in range(max(1, n // 10)):
                self._add(self.space.mutate(self._acts[fp][0], pool_rng), judge)

    # -- set-up ------------------------------------------------------------------------------------
    @property
    def model(self) -> Featurizer:
        """The featuriser the forest ranks with: the set-up's plan decides which groups it computes."""
        if self._model is None:
            mode, base = self._mode or "full", self.featurizer
            has_proxy = "proxy_loss" in base.names
            if mode == "full" or (mode == "features" and not has_proxy) or (mode == "shape" and not has_proxy
                                                                              and not base.propagation):
                self._model = base
            else:
                self._model = Featurizer(probe=base.probe, values=base.values, proxy_steps=0,
                                         propagation=mode != "shape")
        return self._model

    def _values(self, act: Any) -> int:
        return len(self.featurizer.values) if act.params else 1

    def _price(self, acts: list[Any]) -> Plan:
        """Measure one member and choose the set-up's plan (logged in one line)."""
        cost, loss = measure(self.featurizer, acts[0])
        has_proxy = "proxy_loss" in self.featurizer.names
        plan = choose(cost, [self._values(a) for a in acts], steps=task_steps(self.task), budget=self.budget,
                      share=self.setup_share, min_probed=self.n_initial, proxy=has_proxy,
                      proxy_steps=self.featurizer.proxy_steps or PROXY_STEPS)
        self._mode = plan.mode
        if plan.mode == "capped":
            rng = random.Random(f"{self.seed}:probe")
            plan.extra["probe"] = sorted(rng.sample(range(len(acts)), plan.probed))
            if 0 in plan.extra["probe"]:
                self._proxy[acts[0].fingerprint] = loss
        if plan.budget_s is not None or plan.estimate_s >= self.progress_every_s:
            self.log(plan.line())
        return plan

    def _featurize(self, judge: bool, start: float | None = None) -> None:
        """Compute the pool's features (and, with ``judge``, its pre-screen verdicts), with progress
        lines; a fresh search prices the set-up first."""
        start = time.perf_counter() if start is None else start
        acts = [self._acts[fp][1] for fp in self._pool]
        plan = self._price(acts) if self._mode is None and acts else None
        probe = set(plan.extra.get("probe", ())) if plan is not None else set(self.setup.get("extra", {}).get(
            "probe", ()))
        proxy_col = self.model.names.index("proxy_loss") if "proxy_loss" in self.model.names else None
        ticker = Ticker(self.log, "surrogate: probed", len(acts), self.progress_every_s)
        for i, act in enumerate(acts):
            vector = self.model.vector(act)
            fp = act.fingerprint
            if proxy_col is not None:
                self._proxy[fp] = float(vector[proxy_col])
            elif i in probe and fp not in self._proxy:
                self._proxy[fp] = self._proxy_loss(act)
            if judge:
                cand, _, _ = self._acts[fp]
                self._acts[fp] = (cand, act, self._verdict(act))
            ticker.tick(i + 1)
        seconds = time.perf_counter() - start
        self.setup_s += seconds
        self._featurized = True
        if plan is not None:
            plan.seconds = seconds
            self.setup = plan.as_dict()
        else:
            self.setup = {**self.setup, "seconds": round(self.setup.get("seconds", 0.0) + seconds, 3)}
        if seconds >= self.progress_every_s:
            self.log(f"surrogate: set-up done in {minutes(seconds)}")

    def _proxy_loss(self, act: Any) -> float:
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            steps = self.featurizer.proxy_steps or PROXY_STEPS
            return float(proxy_features(act.module, self.featurizer.probe, steps)["proxy_loss"])
        finally:
            torch.set_num_threads(threads)

    def _open(self, rejected: bool = False) -> list[str]:
        """Pool members not yet proposed that pass (``rejected``: that fail) the pre-screen."""
        return [fp for fp in self._pool if not self.known(fp)
                and (self._acts[fp][2] is not None) == rejected]

    # -- model -------------------------------------------------------------------------------------
    def _forest(self) -> Any:
        from sklearn.ensemble import RandomForestRegressor

        seed = (self.seed * 1_000_003 + len(self._results)) % (2**31)
        forest = RandomForestRegressor(n_estimators=self.n_trees, random_state=seed, n_jobs=1)
        X = self.model.matrix([self._acts[fp][1] for fp, _ in self._results])
        return forest.fit(X, np.array(with_failures([s for _, s in self._results])))

    def _rank(self, open_: list[str]) -> list[str]:
        forest = self._forest()
        Z = self.model.matrix([self._acts[fp][1] for fp in open_])
        per_tree = np.stack([t.predict(Z) for t in forest.estimators_])
        mean, spread = per_tree.mean(0), per_tree.std(0)
        self._pred = {fp: (float(m), float(d)) for fp, m, d in zip(open_, mean, spread, strict=True)}
        ucb = mean + self.kappa * spread
        order = sorted(range(len(open_)), key=lambda i: (-ucb[i], i))
        return [open_[i] for i in order]

    def predict(self, acts: list[Any]) -> dict[str, float]:
        """The forest's predicted score of each activation (by fingerprint), fitted on all results."""
        if not self._results or not acts:
            return {}
        pred = self._forest().predict(self.model.matrix(acts))
        return {a.fingerprint: float(p) for a, p in zip(acts, pred, strict=True)}

    # -- Searcher interface ------------------------------------------------------------------------
    def ask(self, proposal_id: int) -> Proposal | _Sentinel:
        if not self._pool_built:
            self._build_pool()
        elif not self._featurized:  # resumed: the pool's features again (its verdicts are stored)
            self._featurize(judge=False)
        while True:  # a member judged only now (the ``shape`` plan) and rejected: choose again
            open_ = self._open()
            if not open_ and self.large:
                self._grow(self.refresh)
                open_ = self._open()
            if not open_:  # only candidates the pre-screen rejects are left: in pool order, flagged
                rest = self._open(rejected=True)
                if not rest:
                    return FINISHED
                return self._offer(proposal_id, rest[0], "rejected")
            fp, how, prediction = self._choose(open_)
            if self._passes(fp):
                return self._offer(proposal_id, fp, how, prediction)

    def _passes(self, fp: str) -> bool:
        """Whether ``fp`` passes the pre-screen, judging it now if the set-up left it unjudged."""
        if fp in self._unjudged:
            self._unjudged.discard(fp)
            cand, act, _ = self._acts[fp]
            self._acts[fp] = (cand, act, reason(self.featurizer.initial_propagation(act), DEFAULT))
        return self._acts[fp][2] is None

    def _choose(self, open_: list[str]) -> tuple[str, str, Prediction | None]:
        """The next pool member to propose, how it was chosen, and the forest's prediction for it."""
        if len(self._results) < self.n_initial:
            return self._start(open_)
        if self.rng.random() < self.epsilon:
            return open_[self.rng.randrange(len(open_))], "random", None
        new = len(self._results) - self._ranked_at
        if new and new >= max(1, int(self.refit_growth * self._ranked_at)):  # (grow the pool and) refit
            if self.large and self._ranked_at >= 0:
                self._grow(self.refresh)
                open_ = self._open()
            self._ranking, self._ranked_at = None, len(self._results)
        fp = next((f for f in self._ranking or () if not self.known(f) and self._acts[f][2] is None), None)
        if fp is None:  # no ranking yet, or all of it proposed while the pool grew
            self._ranking = self._rank(open_)
            fp = self._ranking[0]
        mean, spread = self._pred[fp]
        return fp, "model", Prediction(round(mean, 4), round(spread, 4))

    def _start(self, open_: list[str]) -> tuple[str, str, None]:
        """A starting candidate: random among the best ``init_quantile`` by the proxy loss (of the
        open members the proxy ran on), else random."""
        probed = [fp for fp in open_ if fp in self._proxy]
        if self.init == "random" or not probed:
            return open_[self.rng.randrange(len(open_))], "random", None
        loss = np.array([self._proxy[fp] for fp in probed])
        best = [probed[i] for i in np.argsort(loss, kind="stable")[:max(1, math.ceil(self.init_quantile * len(probed)))]]
        return best[self.rng.randrange(len(best))], "proxy", None

    def _offer(self, proposal_id: int, fp: str, how: str, prediction: Prediction | None = None) -> Proposal:
        return self._propose(proposal_id, self._acts[fp][0], origin=how, prediction=prediction, fp=fp)

    def _complete(self, proposal_id: int, entry: dict[str, Any], fit: float | None) -> None:
        self._results.append((entry["fp"], fit))

    def state(self) -> dict[str, Any]:
        return {
            **super().state(),
            "results": [list(r) for r in self._results],
            "pool": [[self.space.to_tokens(self._acts[fp][0]), self._acts[fp][2]] for fp in self._pool],
            "pool_built": self._pool_built,
            "ranked_at": self._ranked_at,
            "setup": self.setup,
            "mode": self._mode,
            "proxy": dict(self._proxy),
            "unjudged": sorted(self._unjudged),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self._results = [(fp, None if s is None else float(s)) for fp, s in state["results"]]
        self._pool, self._acts = [], {}
        for tokens, why in state["pool"]:
            cand = self.space.from_tokens(tokens)
            text, params = self.space.to_text(cand)
            self._join(cand, parse(text, **params), why)
        self._pool_built = state["pool_built"]
        self._ranking, self._ranked_at = None, state["ranked_at"]
        self.setup = dict(state.get("setup") or {})
        self._mode = state.get("mode") or ("full" if self._pool_built else None)  # older states: the full set-up
        self._model = None
        self._proxy = {str(fp): float(v) for fp, v in (state.get("proxy") or {}).items()}
        self._featurized = False
        self._unjudged = {str(fp) for fp in state.get("unjudged") or ()}
