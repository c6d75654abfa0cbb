"""The rl controller's options: bad values are one-line errors, the model-based forms pick their
batches through the forest, and a state saved by the controller's first form still loads."""

from __future__ import annotations

import pytest

from actsearch.search.searchers import SearcherError, make_searcher
from actsearch.search.searchers.controller import centred_ranks
from tests.helpers.loop import make_searcher as looped

pytestmark = pytest.mark.train  # each fits a forest or a controller: seconds


@pytest.mark.parametrize("options, message", [
    ({"reward": "accuracy"}, "reward must be one of rank, raw"),
    ({"model": "gp"}, "model must be one of none, forest"),
    ({"model": "none"}, "pool and dyna need model=forest"),
    ({"batch_size": 0}, "batch_size and n_initial must be >= 1"),
    ({"explore": 1.0}, "explore must be in \\[0, 1\\)"),
    ({"explore": 0.5, "pool": 4}, "needs a pool larger than batch_size"),
])
def test_bad_options_are_user_errors(tiny_space, options, message):
    with pytest.raises(SearcherError, match=message):
        make_searcher("rl", tiny_space, **options)


def test_centred_ranks_share_ties_and_span_the_unit_interval():
    assert centred_ranks([0.2, 0.9, 0.2, 0.5]) == pytest.approx([-0.5 + 0.5 / 3, 0.5, -0.5 + 0.5 / 3, 0.5 - 1 / 3])
    assert centred_ranks([1.0]) == [0.0] and centred_ranks([float("-inf"), 0.3]) == [-0.5, 0.5]


def test_the_forest_picks_the_batch_once_it_has_results(tiny_space):
    searcher = looped("rl", tiny_space, seed=1, pool=12, n_initial=4, batch_size=4)
    origins = []
    for _ in range(12):
        p = searcher.suggest()
        origins.append(p.origin)
        searcher.on_trial_complete(p.trial_id, score=0.5 if "sin" in p.expression else 0.1)
    assert origins[:4] == ["controller+proxy"] * 4 and origins[4:12] == ["controller+model"] * 8


def test_explore_puts_uniform_samples_in_the_pool_and_the_forest_may_pick_them(tiny_space):
    searcher = looped("rl", tiny_space, seed=3, pool=12, n_initial=4, batch_size=4, explore=0.5)
    origins, fingerprints = [], set()
    for _ in range(16):
        p = searcher.suggest()
        origins.append(p.origin)
        fingerprints.add(p.fingerprint)
        searcher.on_trial_complete(p.trial_id, score=0.5 if "sin" in p.expression else 0.1)
    assert len(fingerprints) == 16  # never a repeat, whichever source a member came from
    assert set(origins[:4]) <= {"controller+proxy", "random+proxy"}
    assert set(origins[4:]) <= {"controller+model", "random+model"}
    assert "random+model" in origins or "random+proxy" in origins


def test_a_state_of_the_first_form_loads(tiny_space):
    first = make_searcher("rl", tiny_space, seed=2)
    state = first.state()
    old = {k: v for k, v in state.items() if k not in ("policy", "results", "primed")}
    old.update(state["policy"])  # the first form kept the controller's weights at the top level
    old["batch"] = [[7, [[0, 0, 0, 0, 0], None]], [8, [[0, 1, 1, 0, 0], 0.4]]]
    again = make_searcher("rl", tiny_space, seed=2)
    again.load_state(old)
    assert again.batch == {7: [[0, 0, 0, 0, 0], False, None], 8: [[0, 1, 1, 0, 0], True, 0.4]}
    assert again.results == [] and again.policy.state()["net"] == state["policy"]["net"]


def test_a_collapsed_policy_stays_finite_when_updated_on_a_token_it_ruled_out(tiny_space):
    import torch

    from actsearch.search.searchers.controller import Policy

    policy = Policy(tiny_space, seed=0)
    with torch.no_grad():  # a collapsed controller: binary 0 has all the mass
        policy.net.heads[0].bias.copy_(torch.tensor([200.0] + [-200.0] * (policy.vocabs[0] - 1)))
    ruled_out = [1, *policy.sample(1)[0][1:]]  # a uniform fill-up sample it would never draw
    for _ in range(3):
        policy.update([ruled_out, policy.sample(1)[0]], [-1.0, 1.0], epochs=4, clip=0.2, entropy=0.01)
    assert all(torch.isfinite(p).all() for p in policy.net.parameters())
    assert len(policy.sample(4)) == 4
