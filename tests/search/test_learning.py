"""The RL controller learns: on an objective that rewards one binary primitive, it proposes that
primitive far more often than uniform sampling does. (Evolution's gain is measured by
benchmarks/bench_searchers.py; with six members and one-component mutation its share of one
binary varies too much per seed for a short test.)"""

from __future__ import annotations

import pytest

from actsearch.search.space.files import load_space
from tests.helpers.loop import make_searcher

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier


def share_of_rewarded(name, seed, n=64, **options):
    space = load_space("x-gated")
    target = [p.name for p in space.binary].index("sigmul")
    searcher = make_searcher(name, space, seed=seed, **options)
    hits = []
    for _ in range(n):
        p = searcher.suggest()
        hits.append(p.tokens[0] == target)
        searcher.on_trial_complete(p.trial_id, score=1.0 if hits[-1] else 0.1)
    return sum(hits[n // 2 :]) / (n - n // 2)  # the second half, after some learning


def test_rl_controller_concentrates_on_the_rewarded_structure():
    learned = sum(share_of_rewarded("rl", s, model="none", pool=0) for s in range(3)) / 3  # the controller alone
    uniform = sum(share_of_rewarded("random", s) for s in range(3)) / 3
    assert uniform < 0.3  # sigmul is 48 of the 320 distinct candidates
    assert learned > 0.5 and learned > 2 * uniform
