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
   panel; ``base.with_failures``) and proposes the untrained candidate with the highest upper bound
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
Deterministic for a seed: the forest's seed derives from (seed, number of results), the pool's
from (seed, pool size, number of results), and the random stream's state is part of ``state()``.
"""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np

from actsearch.grammar import parse
from actsearch.search.screening.features import Featurizer, shared_featurizer
from actsearch.search.screening.prescreen import DEFAULT, reason
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
                 featurizer: Featurizer | None = None) -> None:
        super().__init__(space, seed=seed)
        if init not in ("proxy", "random"):
            raise ValueError(f"init must be 'proxy' or 'random', not {init!r}")
        if not 0 < init_quantile <= 1:
            raise ValueError(f"init_quantile must be in (0, 1], not {init_quantile!r}")
        self.n_initial, self.kappa, self.epsilon, self.n_trees = n_initial, kappa, epsilon, n_trees
        self.init, self.init_quantile = init, init_quantile
        self.prescreen, self.pool_limit, self.pool_size, self.refresh = prescreen, pool_limit, pool_size, refresh
        self.refit_growth = refit_growth
        self.featurizer = featurizer if featurizer is not None else shared_featurizer(task)
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
    def _add(self, cand: Any) -> None:
        """Add a new candidate to the pool, with the pre-screen's verdict."""
        text, params = self.space.to_text(cand)
        fp, trivial = analyse(text, params)
        if fp in self._acts or trivial or self.known(fp):  # trivial: constant, non-finite, zero gradient
            return
        act = parse(text, **params)
        why = reason(self.featurizer.initial_propagation(act), DEFAULT) if self.prescreen else None
        self._join(cand, act, why)

    def _join(self, cand: Any, act: Any, why: str | None) -> None:
        self._acts[act.fingerprint] = (cand, act, why)
        self._pool.append(act.fingerprint)

    def _build_pool(self) -> None:
        if self.large:
            self._grow(self.pool_size)
        else:
            for cand in self.space.enumerate():
                self._add(cand)
        self._pool_built = True

    def _grow(self, n: int) -> None:
        pool_rng = random.Random(f"{self.seed}:{len(self._pool)}:{len(self._results)}")
        for _ in range(n):
            self._add(self.space.sample(pool_rng))
        ok = [r for r in self._results if r[1] is not None]
        for fp, _ in sorted(ok, key=lambda r: -r[1])[:5]:  # around the best so far
            for _ in range(max(1, n // 10)):
                self._add(self.space.mutate(self._acts[fp][0], pool_rng))

    def _open(self, rejected: bool = False) -> list[str]:
        """Pool members not yet proposed that pass (``rejected``: that fail) the pre-screen."""
        return [fp for fp in self._pool if not self.known(fp)
                and (self._acts[fp][2] is not None) == rejected]

    # -- model -------------------------------------------------------------------------------------
    def _forest(self) -> Any:
        from sklearn.ensemble import RandomForestRegressor

        seed = (self.seed * 1_000_003 + len(self._results)) % (2**31)
        forest = RandomForestRegressor(n_estimators=self.n_trees, random_state=seed, n_jobs=1)
        X = self.featurizer.matrix([self._acts[fp][1] for fp, _ in self._results])
        return forest.fit(X, np.array(with_failures([s for _, s in self._results])))

    def _rank(self, open_: list[str]) -> list[str]:
        forest = self._forest()
        Z = self.featurizer.matrix([self._acts[fp][1] for fp in open_])
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
        pred = self._forest().predict(self.featurizer.matrix(acts))
        return {a.fingerprint: float(p) for a, p in zip(acts, pred, strict=True)}

    # -- Searcher interface ------------------------------------------------------------------------
    def ask(self, proposal_id: int) -> Proposal | _Sentinel:
        if not self._pool_built:
            self._build_pool()
        open_ = self._open()
        if not open_ and self.large:
            self._grow(self.refresh)
            open_ = self._open()
        if not open_:  # only candidates the pre-screen rejects are left: in pool order, flagged
            rest = self._open(rejected=True)
            if not rest:
                return FINISHED
            return self._offer(proposal_id, rest[0], "rejected")
        if len(self._results) < self.n_initial:
            return self._start(proposal_id, open_)
        if self.rng.random() < self.epsilon:
            return self._offer(proposal_id, open_[self.rng.randrange(len(open_))], "random")
        new = len(self._results) - self._ranked_at
        if new and new >= max(1, int(self.refit_growth * self._ranked_at)):  # (grow the pool and) refit
            if self.large and self._ranked_at >= 0:
                self._grow(self.refresh)
                open_ = self._open()
            self._ranking, self._ranked_at = None, len(self._results)
        fp = next((f for f in self._ranking or () if not self.known(f)), None)
        if fp is None:  # no ranking yet, or all of it proposed while the pool grew
            self._ranking = self._rank(open_)
            fp = self._ranking[0]
        mean, spread = self._pred[fp]
        return self._offer(proposal_id, fp, "model", Prediction(round(mean, 4), round(spread, 4)))

    def _start(self, proposal_id: int, open_: list[str]) -> Proposal:
        """A starting candidate: random among the best ``init_quantile`` by the proxy loss."""
        if self.init == "random" or "proxy_loss" not in self.featurizer.names:
            return self._offer(proposal_id, open_[self.rng.randrange(len(open_))], "random")
        col = self.featurizer.names.index("proxy_loss")
        loss = self.featurizer.matrix([self._acts[fp][1] for fp in open_])[:, col]
        best = [open_[i] for i in np.argsort(loss, kind="stable")[:max(1, math.ceil(self.init_quantile * len(open_)))]]
        return self._offer(proposal_id, best[self.rng.randrange(len(best))], "proxy")

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
