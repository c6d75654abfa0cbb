"""A failed trial counts as the worst score so far in the searchers' models: 0 for accuracies, the
lowest score seen on a panel, whose scores are in ReLU seed spreads and often negative (a failure
counted as 0 there would look ReLU-level to the forest)."""

from __future__ import annotations

import numpy as np
import pytest

from actsearch.search.searchers import make_searcher
from actsearch.search.searchers.base import with_failures
from tests.helpers.loop import make_searcher as looped


def test_with_failures_scores_a_failure_as_the_worst_or_zero():
    assert with_failures([0.8, None, 0.3]) == [0.8, 0.0, 0.3]
    assert with_failures([-4.0, None, 1.5, -30.0]) == [-4.0, -30.0, 1.5, -30.0]
    assert with_failures([None]) == [0.0]


def _train(name: str, space, **options):
    searcher = looped(name, space, seed=3, **options)
    failed = []
    for _ in range(10):
        p = searcher.suggest()
        if "sin" in p.expression:  # every function with a sin diverges
            failed.append(p.expression)
            searcher.on_trial_complete(p.trial_id, score=None, status="diverged")
        else:
            searcher.on_trial_complete(p.trial_id, score=-10.0 - len(p.expression))
    return searcher.searcher, failed


@pytest.mark.train
def test_the_surrogate_fits_failures_below_every_negative_score(tiny_space):
    surrogate, failed = _train("surrogate", tiny_space, n_initial=3)
    assert failed and any(s is None for _, s in surrogate._results)
    forest = surrogate._forest()
    worst = min(s for _, s in surrogate._results if s is not None)
    fitted = forest.predict(surrogate.featurizer.matrix([surrogate._acts[fp][1] for fp, s in surrogate._results
                                                         if s is None]))
    assert np.all(fitted < -10.0) and np.all(fitted >= worst - 1e-9)  # not 0: ReLU's level on a panel
    again = make_searcher("surrogate", tiny_space, seed=3, n_initial=3)
    again.load_state(surrogate.state())  # a failure survives a resume as a failure
    assert again._results == surrogate._results


@pytest.mark.train
def test_rl_fits_its_forest_on_failures_as_the_worst_score(tiny_space):
    rl, failed = _train("rl", tiny_space, batch_size=2, n_initial=2, pool=8)
    assert failed and any(f is None for _, f in rl.results)
    forest = rl._fit()
    X, keep = rl._features([t for t, f in rl.results if f is None])
    assert keep and np.all(forest.predict(X) < -10.0)
