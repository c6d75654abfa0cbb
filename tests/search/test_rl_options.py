"""The rl controller's options: bad values are one-line errors, the model-based forms pick their
batches through the forest, and a state saved by the controller's first form still loads."""

from __future__ import annotations

import pytest

from actsearch.search.searchers import FINISHED, WAIT, Outcome, SearcherError, make_searcher
from actsearch.search.searchers.controller import centred_ranks
from tests.helpers.loop import make_searcher as looped

pytestmark = pytest.mark.train  # each fits a forest or a controller: seconds


@pytest.mark.parametrize("options, message", [
    ({"reward": "accuracy"}, "reward must be one of rank, raw"),
    ({"model": "gp"}, "model must be one of none, forest"),
    ({"model": "none"}, "pool and dyna need model=forest"),
    ({"batch_size": 0}, "batch_size and n_initial must be >= 1"),
    ({"ahead": 2}, "ahead 0 or 1"),
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
    old = {k: v for k, v in state.items() if k not in ("policy", "results", "primed", "sampled")}
    old.update(state["policy"])  # the first form kept the controller's weights at the top level
    old["batch"] = [[7, [[0, 0, 0, 0, 0], None]], [8, [[0, 1, 1, 0, 0], 0.4]]]
    again = make_searcher("rl", tiny_space, seed=2)
    again.load_state(old)
    # (the batch number came later: a stored batch is the newest, the one being trained)
    assert again.batch == {7: [[0, 0, 0, 0, 0], False, None, 1], 8: [[0, 1, 1, 0, 0], True, 0.4, 1]}
    assert again.sampled == 1
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


def _score(p) -> float:
    return 0.5 if "sin" in p.expression else 0.1


def test_the_next_batch_is_proposed_while_the_current_one_trains(tiny_space):
    """ahead=1: with a batch handed out and none of it back, the next batch is handed out (and no
    more); ahead=0 waits for every result."""
    for ahead, handed in ((1, 8), (0, 4)):
        searcher = looped("rl", tiny_space, seed=3, batch_size=4, pool=0, model="none", ahead=ahead)
        out = []
        while (p := searcher.suggest()) not in (WAIT, FINISHED):
            out.append(p)
        assert p is WAIT and len(out) == handed and len({q.fingerprint for q in out}) == handed
        assert searcher.searcher.results == []  # no update before a batch's results are all in


def test_updates_come_in_batch_order_when_results_arrive_out_of_order(tiny_space):
    searcher = looped("rl", tiny_space, seed=3, batch_size=4, pool=0, model="none")
    first, second = [searcher.suggest() for _ in range(4)], [searcher.suggest() for _ in range(4)]
    net = searcher.searcher.policy.state()["net"]
    for p in second:  # the later batch comes back first: it waits for the earlier one
        searcher.on_trial_complete(p.trial_id, score=_score(p))
    assert searcher.suggest() is WAIT and searcher.searcher.results == []
    assert searcher.searcher.policy.state()["net"] == net
    for p in first[:3]:
        searcher.on_trial_complete(p.trial_id, score=_score(p))
    assert searcher.suggest() is WAIT
    searcher.on_trial_complete(first[3].trial_id, score=_score(first[3]))
    third = searcher.suggest()  # both updates, in order, then the third batch
    assert third not in (WAIT, FINISHED)
    told = [searcher.searcher.space.from_tokens(t) for t, _ in searcher.searcher.results]
    assert [searcher.searcher.space.to_text(c)[0] for c in told] == [p.expression for p in first + second]
    assert searcher.searcher.policy.state()["net"] != net


def test_one_trial_at_a_time_makes_the_same_proposals_either_way(tiny_space):
    runs = []
    for ahead in (0, 1):
        searcher = looped("rl", tiny_space, seed=4, batch_size=4, pool=8, n_initial=4, ahead=ahead)
        seen = []
        for _ in range(16):
            p = searcher.suggest()
            seen.append(p.expression)
            searcher.on_trial_complete(p.trial_id, score=_score(p))
        runs.append(seen)
    assert runs[0] == runs[1]


def test_two_batches_in_flight_survive_a_saved_state(tiny_space):
    """A run killed with two batches out resumes with both, and updates as the unkilled one does."""
    a = looped("rl", tiny_space, seed=5, batch_size=2, pool=0, model="none")
    out = [a.suggest() for _ in range(4)]
    state = a.searcher.state()
    b = make_searcher("rl", tiny_space, seed=5, batch_size=2, pool=0, model="none")
    b.load_state(state)
    assert b.batch == a.searcher.batch and b.sampled == 2 == len({e[3] for e in b.batch.values()})
    for pid, p in zip(list(b.batch), out, strict=True):  # the same results told to both, in order
        a.on_trial_complete(p.trial_id, score=_score(p))
        b.tell(pid, Outcome(_score(p)))
    assert a.searcher.results == b.results == []  # told, not yet learned: that comes at the next ask
    a.searcher._learn()
    b._learn()
    assert a.searcher.results == b.results and len(b.results) == 4 and not b.batch
    assert a.searcher.policy.state()["net"] == b.policy.state()["net"]
