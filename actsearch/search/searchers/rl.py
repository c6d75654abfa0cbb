"""``rl``: the paper's RL controller (an LSTM over the space's tokens, policy gradient with a
baseline), made sample-efficient: rank rewards, small batches, and a random forest on cheap
features that chooses each batch among the controller's samples (figures of every variant:
``benchmarks/bench_searchers.py``, docs/results.md).

The controller (:mod:`controller`) proposes batches of ``batch_size`` candidates with new
fingerprints (samples that repeat one, or one the run holds, are drawn again; after ``_TRIES``
rounds uniform samples fill the batch). Once every proposal of a batch has completed it takes a
clipped policy-gradient step (PPO, ``epochs`` passes) with advantages from ``reward``. With
``ahead=1`` (the default) it does not wait for that: once a batch is handed out and a worker asks
for more, the next batch is sampled (and chosen by the forest on the results so far) while the rest
of the current one trains, so the driver's sampling and featurising overlap training; the batches'
updates then come in order, each when all its results are in (PPO's ratio keeps an update on a
batch sampled one update earlier safe). ``ahead=0`` waits for every result, as the first form did.
A sequential run (one trial at a time) makes the same proposals either way:

- ``"rank"`` (the default): each result's rank among *all* results so far, as a fraction in
  [-0.5, 0.5] (failures rank lowest; ties share a rank) — the baseline is the running median, and
  the scale does not shrink as scores bunch up near the top;
- ``"raw"`` (the paper's, and this searcher's first form): the score (a failure: the worst so far, 0 for accuracies) minus an
  exponential moving average of batch means (``baseline_decay``), over the batch's std.

A candidate stopped at a rung (status ``stopped``, successive halving) is rewarded, and fits the
forest, with its rung score, as a scored result (ranked below the cut it missed).

Model-based options (``model="forest"``, the default; ``model="none", pool=0`` is the controller
alone) use the surrogate's features (:mod:`actsearch.search.screening.features`, the same shared
featuriser) and a random forest fitted on the results so far, once ``n_initial`` have arrived:

- ``pool=K`` (default 32): the controller samples K fresh candidates and the batch is the ``batch_size`` the
  forest predicts best — real trainings go to what the controller *and* the model believe in;
  until the forest has ``n_initial`` results, the best by the trainability proxy (``proxy_loss``,
  as the surrogate's starts);
- ``dyna=N``: after each real update, N more updates on 32 controller samples rewarded by the
  forest's predicted ranks (the forest as a cheap simulator, a Dyna loop);
- ``prior=N`` (with or without a model): before the first batch, N updates rewarded by the
  ranks of the pre-screen's trainability proxy (``proxy_loss``, 20 Adam steps on the task's network).
- ``explore=F`` (with a pool, default 0): a fraction F of the pool is drawn uniformly from the
  space instead of from the controller, so that the forest can still pick what a concentrated
  controller no longer samples (origin ``random+model``); the controller is updated on those
  results too (PPO's ratio starts at 1 for any sample, so off-policy members are safe).

Deterministic per seed (the controller's own ``torch.Generator``; the forest's seed derives from
the seed and the number of results); ``state()`` holds the controller, optimiser, RNG states and
results as JSON, so a restored searcher makes the same next suggestions.
"""

from __future__ import annotations

from typing import Any

from actsearch.search.searchers.base import FINISHED, WAIT, Outcome, Proposal, _Sentinel, with_failures
from actsearch.search.searchers.common import IndexStream, SpaceSearcher

_TRIES = 8  # sampling rounds per batch before uniform samples fill it up
_SIMULATED = 32  # controller samples per simulated (dyna / prior) update
REWARDS = ("rank", "raw")
MODELS = ("none", "forest")


class RLController(SpaceSearcher):
    """LSTM controller + PPO, proposing batches of new fingerprints (options: module docstring)."""

    name = "rl"

    def __init__(self, space: Any, *, seed: int = 0, batch_size: int = 4, hidden: int = 32, lr: float = 0.05,
                 epochs: int = 4, clip: float = 0.2, entropy: float = 0.01, reward: str = "rank",
                 baseline_decay: float = 0.8, model: str = "forest", pool: int = 32, dyna: int = 0, prior: int = 0,
                 explore: float = 0.0, n_initial: int = 5, n_trees: int = 32, ahead: int = 1, task: Any = "mnist1d",
                 featurizer: Any = None) -> None:
        from actsearch.search.searchers.controller import Policy

        super().__init__(space, seed=seed)
        if reward not in REWARDS:
            raise ValueError(f"reward must be one of {', '.join(REWARDS)}, got {reward!r}")
        if model not in MODELS:
            raise ValueError(f"model must be one of {', '.join(MODELS)}, got {model!r}")
        if batch_size < 1 or pool < 0 or dyna < 0 or prior < 0 or n_initial < 1 or ahead not in (0, 1):
            raise ValueError("batch_size and n_initial must be >= 1; pool, dyna and prior >= 0; ahead 0 or 1")
        if (pool or dyna) and model == "none":
            raise ValueError("pool and dyna need model=forest")
        if not 0.0 <= explore < 1.0 or (explore and pool <= batch_size):
            raise ValueError("explore must be in [0, 1) and needs a pool larger than batch_size")
        self.batch_size, self.epochs, self.clip, self.entropy = batch_size, epochs, clip, entropy
        self.reward, self.baseline_decay, self.baseline = reward, baseline_decay, None
        self.model, self.pool, self.dyna, self.prior, self.explore = model, pool, dyna, prior, explore
        self.n_initial, self.n_trees, self.task, self.ahead = n_initial, n_trees, task, ahead
        self._featurizer = featurizer
        self.policy = Policy(space, seed=seed, hidden=hidden, lr=lr)
        self.stream = IndexStream(space.raw_size)
        self.queue: list[list[Any]] = []  # [tokens, origin] of the newest batch not yet handed out
        # proposal id -> [tokens, done, fitness (None: failed), batch number], until its batch's update
        self.batch: dict[int, list[Any]] = {}
        self.sampled = 0  # batches sampled so far (the newest one's number)
        self.results: list[list[Any]] = []  # [tokens, fitness or None] of every completed proposal
        self.primed = prior == 0
        self._acts: dict[tuple[int, ...], Any] = {}  # tokens -> Activation (None: trivial), for features
        self._fitted: tuple[int, Any] | None = None  # (results it was fitted on, forest)

    # -- features and the model --------------------------------------------------------------------
    @property
    def featurizer(self) -> Any:
        if self._featurizer is None:
            from actsearch.search.screening.features import shared_featurizer

            self._featurizer = shared_featurizer(self.task)
        return self._featurizer

    def _act(self, tokens: list[int]) -> Any:
        key = tuple(tokens)
        if key not in self._acts:
            from actsearch.grammar import parse
            from actsearch.search.space.dedup import analyse

            text, params = self.space.to_text(self.space.from_tokens(tokens))
            self._acts[key] = None if analyse(text, params)[1] else parse(text, **params)
        return self._acts[key]

    def _features(self, seqs: list[list[int]]) -> tuple[Any, list[int]]:
        """The feature matrix of the non-trivial sequences, and their indices in ``seqs``."""
        keep = [i for i, t in enumerate(seqs) if self._act(t) is not None]
        return self.featurizer.matrix([self._act(seqs[i]) for i in keep]), keep

    def _forest(self) -> Any:
        """The forest on the results so far (fitted once per number of results: a batch's dyna
        updates and the next batch's choice share it)."""
        if self._fitted is not None and self._fitted[0] == len(self.results):
            return self._fitted[1]
        forest = self._fit()
        self._fitted = (len(self.results), forest)
        return forest

    def _fit(self) -> Any:
        import numpy as np
        from sklearn.ensemble import RandomForestRegressor

        X, keep = self._features([t for t, _ in self.results])
        y = np.array(with_failures([self.results[i][1] for i in keep]))
        seed = (self.seed * 1_000_003 + len(self.results)) % (2**31)
        return RandomForestRegressor(n_estimators=self.n_trees, random_state=seed, n_jobs=1).fit(X, y)

    def _predicted(self, forest: Any, seqs: list[list[int]]) -> list[float]:
        """The forest's score for each sequence (trivial ones: below every prediction)."""
        X, keep = self._features(seqs)
        out = [-1.0] * len(seqs)
        if keep:
            for i, p in zip(keep, forest.predict(X), strict=True):
                out[i] = float(p)
        return out

    def _simulated(self, rewards_of: Any, steps: int) -> None:
        """``steps`` updates on fresh controller samples rewarded by ``rewards_of(seqs)`` (ranks)."""
        from actsearch.search.searchers.controller import centred_ranks

        for _ in range(steps):
            seqs = self.policy.sample(_SIMULATED)
            self.policy.update(seqs, centred_ranks(rewards_of(seqs)), epochs=2, clip=self.clip,
                               entropy=self.entropy)

    def _proxy(self, seqs: list[list[int]]) -> list[float]:
        """Minus the trainability proxy's loss (higher is better; trivial ones lowest)."""
        col = self.featurizer.names.index("proxy_loss")
        X, keep = self._features(seqs)
        out = [float("-inf")] * len(seqs)
        for i, row in zip(keep, X, strict=True):
            value = float(row[col])
            out[i] = -value if value == value else float("-inf")
        return out

    @property
    def _modelled(self) -> bool:
        return self.model == "forest" and len(self.results) >= self.n_initial

    # -- proposing and learning --------------------------------------------------------------------
    def _sample_batch(self) -> None:
        taken: set[str] = set()
        want = self.pool if self.pool > self.batch_size else self.batch_size
        uniform = round(self.explore * want)
        found: list[list[int]] = []
        for _ in range(_TRIES):
            if len(found) >= want - uniform:
                break
            for toks in self.policy.sample(max(self.batch_size, want)):
                fp = self._fresh(self.space.from_tokens(toks), taken)
                if len(found) < want - uniform and fp is not None:
                    taken.add(fp)
                    found.append(toks)
        sources = ["controller"] * len(found)
        for _ in range(_TRIES * uniform):  # explore: uniform members of the pool (with replacement:
            if len(found) >= want:         # the fill-up stream keeps every index it has not handed out)
                break
            cand = self.space.at(self.rng.randrange(self.space.raw_size))
            fp = self._fresh(cand, taken)
            if fp is not None:
                taken.add(fp)
                found.append(self.space.to_tokens(cand))
                sources.append("random")
        suffix = ""
        if len(found) > self.batch_size:  # the model picks the batch from the pool
            if self._modelled:
                pred, suffix = self._predicted(self._forest(), found), "+model"
            else:  # before the forest has results: the trainability proxy (as the surrogate starts)
                pred, suffix = self._proxy(found), "+proxy"
            order = sorted(range(len(found)), key=lambda i: (-pred[i], i))[:self.batch_size]
            found, sources = [found[i] for i in order], [sources[i] for i in order]
        self.queue = [[t, source + suffix] for t, source in zip(found, sources, strict=True)]
        while len(self.queue) < self.batch_size and not self.stream.done:
            cand = self.space.at(self.stream.next(self.rng))
            fp = self._fresh(cand, taken)
            if fp is not None:
                taken.add(fp)
                self.queue.append([self.space.to_tokens(cand), "random"])
        self.sampled += 1

    def _advantages(self, rewards: list[float]) -> list[float]:
        if self.reward == "rank":
            from actsearch.search.searchers.controller import centred_ranks

            everything = [r if r is not None else float("-inf") for _, r in self.results]
            return centred_ranks(everything)[-len(rewards):]  # this batch is the last of the results
        mean = sum(rewards) / len(rewards)
        self.baseline = mean if self.baseline is None else self.baseline
        adv = [r - self.baseline for r in rewards]
        sd = (sum((r - mean) ** 2 for r in rewards) / len(rewards)) ** 0.5
        if len(rewards) > 1 and sd > 0:
            adv = [a / (sd + 1e-8) for a in adv]
        self.baseline = self.baseline_decay * self.baseline + (1 - self.baseline_decay) * mean
        return adv

    def _learn(self) -> None:
        """Update on each batch, oldest first, once it is handed out and all its results are in."""
        while self.batch:
            oldest = min(entry[3] for entry in self.batch.values())
            if oldest == self.sampled and self.queue:  # still being handed out
                return
            ids = [i for i, entry in self.batch.items() if entry[3] == oldest]
            if not all(self.batch[i][1] for i in ids):
                return
            self._update(ids)
            for i in ids:
                del self.batch[i]

    def _update(self, ids: list[int]) -> None:
        tokens = [self.batch[i][0] for i in ids]
        fits = [self.batch[i][2] for i in ids]
        self.results.extend([t, f] for t, f in zip(tokens, fits, strict=True))
        adv = self._advantages(with_failures([f for _, f in self.results])[-len(fits):])  # raw: as the worst
        self.policy.update(tokens, adv, epochs=self.epochs, clip=self.clip, entropy=self.entropy)
        if self.dyna and self._modelled:
            forest = self._forest()
            self._simulated(lambda seqs: self._predicted(forest, seqs), self.dyna)

    def ask(self, proposal_id: int) -> Proposal | _Sentinel:
        if not self.queue:
            from actsearch.search.searchers.controller import one_thread

            with one_thread():
                self._learn()
                if len({entry[3] for entry in self.batch.values()}) > self.ahead:
                    return WAIT  # the batches in flight are as many as may be
                if not self.primed:
                    self._simulated(self._proxy, self.prior)
                    self.primed = True
                self._sample_batch()
            if not self.queue:
                return WAIT if self.batch else FINISHED
        tokens, origin = self.queue.pop(0)
        self.batch[proposal_id] = [tokens, False, None, self.sampled]
        return self._propose(proposal_id, self.space.from_tokens(tokens), origin=origin)

    def tell(self, proposal_id: int, outcome: Outcome) -> None:
        if outcome.skipped:  # the run already held it (e.g. found by another phase): not a batch member
            self.batch.pop(proposal_id, None)
        super().tell(proposal_id, outcome)

    def _complete(self, proposal_id: int, entry: dict[str, Any], fit: float | None) -> None:
        if proposal_id in self.batch:
            self.batch[proposal_id][1:3] = [True, fit]

    def concentration(self) -> float:
        """The controller's mean entropy per candidate (nats): falls as it concentrates."""
        return self.policy.mean_entropy()

    def state(self) -> dict[str, Any]:
        return {
            **super().state(), "policy": self.policy.state(), "baseline": self.baseline,
            "queue": [list(q) for q in self.queue], "batch": [[k, list(v)] for k, v in self.batch.items()],
            "stream": self.stream.state(), "results": [list(r) for r in self.results], "primed": self.primed,
            "sampled": self.sampled,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.policy.load_state(state.get("policy", state))  # (a first-form state keeps them at the top)
        self.baseline = state["baseline"]
        self.queue = [list(q) for q in state["queue"]]
        self.sampled = int(state.get("sampled", 1 if state["batch"] or state["queue"] else 0))
        self.batch = {int(k): _batch_entry(v, self.sampled) for k, v in state["batch"]}
        self.stream.load_state(state["stream"])
        self.results = [list(r) for r in state.get("results", [])]
        self.primed = bool(state.get("primed", True))


def _batch_entry(value: list[Any], sampled: int) -> list[Any]:
    """A stored batch member; the first form was [tokens, reward or None while running], the second
    [tokens, done, fitness] (one batch in flight: the newest)."""
    if len(value) == 2:
        value = [value[0], value[1] is not None, value[1] if value[1] else None]
    return list(value) if len(value) == 4 else [*value, sampled]
