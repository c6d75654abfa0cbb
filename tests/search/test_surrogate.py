"""The ``surrogate`` searcher: determinism, no repeats, failures, restore, pre-screen, and that it
beats random search on an objective its features can see."""

from __future__ import annotations

import math
import statistics

import pytest
import torch

import actsearch
from actsearch.search.screening.features import Featurizer
from actsearch.search.searchers.surrogate import SurrogateSearcher as _Surrogate
from actsearch.search.space.dedup import distinct
from actsearch.search.space.files import load_space
from tests.helpers.loop import FINISHED, Looped, make_searcher

pytestmark = pytest.mark.train  # each fits a forest or a controller: seconds

GRID = torch.linspace(-4, 4, 201)


def SurrogateSearcher(*args, **kw):  # noqa: N802 - the searcher, driven through the real loop
    return Looped(_Surrogate(*args, **kw))


@pytest.fixture(scope="module")
def featurizer():
    return Featurizer()  # task-free Gaussian probe, shared (features are cached by fingerprint)


@pytest.fixture(scope="module")
def quick():
    return load_space("quick")


def swish_likeness(proposal) -> float:
    """A real, cheap objective: 1 / (1 + mean squared distance to x·σ(x) on [-4, 4])."""
    act = proposal.activation() if hasattr(proposal, "activation") else proposal
    with torch.no_grad():
        y = act.module()(GRID)
    d = float(((y - GRID * torch.sigmoid(GRID)) ** 2).mean())
    return 1.0 / (1.0 + d) if math.isfinite(d) else 0.0


def drive(searcher, objective, limit=10_000):
    """Sequential replay: returns [(fingerprint, score)] in proposal order."""
    seen = []
    while len(seen) < limit:
        p = searcher.suggest()
        if p is FINISHED:
            break
        score = objective(p)
        searcher.on_trial_complete(p.trial_id, score)
        seen.append((p.fingerprint, score))
    return seen


def test_deterministic_no_repeats_and_finishes(tiny_space, featurizer):
    a = drive(SurrogateSearcher(tiny_space, seed=3, featurizer=featurizer, n_initial=3), swish_likeness)
    b = drive(SurrogateSearcher(tiny_space, seed=3, featurizer=featurizer, n_initial=3), swish_likeness)
    assert a == b
    fps = [fp for fp, _ in a]
    assert len(fps) == len(set(fps)) > 10
    c = drive(SurrogateSearcher(tiny_space, seed=4, featurizer=featurizer, n_initial=3), swish_likeness)
    assert sorted(fp for fp, _ in c) == sorted(fps) and [fp for fp, _ in c] != fps


def test_prescreen_rejections_come_last_and_flagged(tiny_space, featurizer):
    s = SurrogateSearcher(tiny_space, seed=0, featurizer=featurizer, n_initial=3)
    props = []
    while (p := s.suggest()) is not FINISHED:
        props.append(p)
        flagged = p.origin == "rejected"  # the loop's pre-screen stores these invalid, untrained
        s.on_trial_complete(p.trial_id, None if flagged else swish_likeness(p), "invalid" if flagged else "ok")
    flagged = [i for i, p in enumerate(props) if p.origin == "rejected"]
    assert flagged and flagged == list(range(len(props) - len(flagged), len(props)))
    assert all(s.searcher._acts[props[i].fingerprint][2].startswith("pre-screen:") for i in flagged)
    assert not s.store.candidates(include_pending=True) or all(r.trained for r in s.store.candidates())
    # with the pre-screen off: the same candidates, none flagged
    off = SurrogateSearcher(tiny_space, seed=0, featurizer=featurizer, n_initial=3, prescreen=False)
    props_off = drive(off, swish_likeness)
    assert {fp for fp, _ in props_off} == {p.fingerprint for p in props}
    assert off.suggest() is FINISHED


def test_failures_and_non_finite_scores_are_handled(quick, featurizer):
    s = SurrogateSearcher(quick, seed=1, featurizer=featurizer, n_initial=3)
    outcomes = [(float("nan"), "ok"), (None, "error"), (float("inf"), "ok"), (0.5, "diverged")]
    for i in range(12):
        p = s.suggest()
        score, status = outcomes[i % 4] if i < 8 else (swish_likeness(p), "ok")
        s.on_trial_complete(p.trial_id, score, status)
    assert [r for _, r in s._results[:8]] == [None] * 8  # failures, fitted as the worst score (0 here)
    assert s.suggest() is not FINISHED


def test_state_restore_mid_run_gives_the_same_suggestions(quick, featurizer, tmp_path):
    s = SurrogateSearcher(quick, seed=5, featurizer=featurizer, n_initial=3, epsilon=0.2)
    drive(s, swish_likeness, limit=7)
    pending = s.suggest()  # one trial still running at save time
    s.save(str(tmp_path / "run.pickle"))  # the store and the searcher's checkpoint, as a killed run leaves them
    s.on_trial_complete(pending.trial_id, swish_likeness(pending))
    after = [fp for fp, _ in drive(s, swish_likeness, limit=6)]
    r = SurrogateSearcher(quick, seed=5, featurizer=Featurizer(), n_initial=3, epsilon=0.2)
    r.restore(str(tmp_path / "run.pickle"))
    # the running trial completes after the restore, then the searcher continues
    r.on_trial_complete(pending.trial_id, swish_likeness(pending))
    again = [fp for fp, _ in drive(r, swish_likeness, limit=6)]
    assert again == after


def test_batches_without_results_are_distinct_and_ranked(quick, featurizer):
    s = SurrogateSearcher(quick, seed=2, featurizer=featurizer, n_initial=4)
    drive(s, swish_likeness, limit=4)
    batch = [s.suggest() for _ in range(5)]  # five parallel workers, no result yet
    assert len({p.fingerprint for p in batch}) == 5
    assert all(p.origin == "model" for p in batch)
    # ranked by the upper bound mean + kappa * spread that each proposal carries
    bounds = [p.prediction.mean + s.kappa * p.prediction.spread for p in batch]
    assert bounds == sorted(bounds, reverse=True)
    predicted = s.predict([p.activation() for p in batch])
    assert [round(predicted[p.fingerprint], 4) for p in batch] == [p.prediction.mean for p in batch]


def test_beats_random_on_a_feature_visible_objective(quick, featurizer):
    """Evaluations until one of the 5 most swish-like candidates: surrogate < 0.75 x random (median)."""
    pool = [(fp, swish_likeness(actsearch.parse(text, **params))) for _, text, params, fp in distinct(quick)]
    fifth = sorted(score for _, score in pool)[-5]
    top = {fp for fp, score in pool if score >= fifth}

    def to_top(searcher):
        n = 0
        while (p := searcher.suggest()) is not FINISHED:
            n += 1
            if p.fingerprint in top:
                return n
            searcher.on_trial_complete(p.trial_id, swish_likeness(p))
        return math.inf

    rand = [to_top(make_searcher("random", quick, seed=s)) for s in range(8)]
    surr = [to_top(SurrogateSearcher(quick, seed=s, featurizer=featurizer, n_trees=32)) for s in range(8)]
    assert statistics.median(surr) < 0.75 * statistics.median(rand), (surr, rand)


def test_starts_come_from_the_best_tenth_by_the_proxy(quick, featurizer):
    s = SurrogateSearcher(quick, seed=0, featurizer=featurizer, n_initial=4)
    first = drive(s, swish_likeness, limit=1)
    open_ = [fp for fp in s._pool if s._acts[fp][2] is None]  # every candidate that passes the pre-screen
    loss = {fp: featurizer.as_dict(s._acts[fp][1])["proxy_loss"] for fp in open_}
    cut = sorted(loss.values())[math.ceil(0.1 * len(open_)) - 1]
    starts = [fp for fp, _ in first + drive(s, swish_likeness, limit=3)]
    assert all(loss[fp] <= cut for fp in starts)
    assert len(set(starts)) == 4
    # other seeds draw other starts from the same best tenth
    others = {fp for seed in (1, 2, 3) for fp, _ in drive(SurrogateSearcher(quick, seed=seed, featurizer=featurizer,
                                                                            n_initial=1), swish_likeness, limit=1)}
    assert all(loss[fp] <= cut for fp in others) and len(others | set(starts)) > 4
    # init="random" starts anywhere in the pool, and says so
    r = SurrogateSearcher(quick, seed=0, featurizer=featurizer, n_initial=8, init="random")
    picks = [r.suggest() for _ in range(8)]
    assert {p.origin for p in picks} == {"random"} and any(loss[p.fingerprint] > cut for p in picks)
    assert s.suggest().origin == "model"


def test_bad_start_options_are_refused(quick):
    from actsearch.search.searchers import SearcherError

    for bad in ({"init": "best"}, {"init_quantile": 0.0}, {"init_quantile": 1.5}):
        with pytest.raises(SearcherError, match="bad option"):
            make_searcher("surrogate", quick, **bad)


def test_large_space_uses_a_growing_pool(featurizer):
    space = load_space("paper-2")
    s = SurrogateSearcher(space, seed=0, featurizer=featurizer, pool_size=20, refresh=5, n_initial=3, n_trees=16)
    seen = drive(s, swish_likeness, limit=6)
    assert len({fp for fp, _ in seen}) == 6 and s.large and 10 < len(s._pool) < 100
