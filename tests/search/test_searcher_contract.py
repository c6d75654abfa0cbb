"""The contract every registered searcher must pass (parametrised over ``SEARCHERS``).

Determinism per seed, no repeated fingerprint, a correct finish that covers the deduplicated
space, NaN/inf/error results handled, and ``state()`` → JSON → ``load_state()`` mid-run giving the
same next suggestions. A new searcher added to the registry is checked automatically.

A searcher of another package runs the same suite: register it (``register_searcher`` or an
``actsearch.searchers`` entry point), import these tests into a module of its own and parametrise
``name`` there with its name (``tests/search/test_plugins.py`` does so).
"""

from __future__ import annotations

import json
import math

import pytest

from actsearch.errors import UserError
from actsearch.search.space.dedup import distinct
from tests.helpers.loop import FINISHED, SEARCHERS, WAIT, make_searcher
from tests.helpers.scoring import score_of

# every registered searcher, and the rl controller's other forms (benchmarks/bench_searchers.py)
CASES = {n: (n, {}) for n in SEARCHERS}
CASES["rl-old"] = ("rl", {"reward": "raw", "batch_size": 8, "model": "none", "pool": 0})
CASES["rl-controller"] = ("rl", {"model": "none", "pool": 0})
CASES["rl-dyna"] = ("rl", {"pool": 12, "dyna": 2, "n_initial": 3})
CASES["rl-explore"] = ("rl", {"pool": 12, "explore": 0.25, "n_initial": 3})
CASES["rl-prior"] = ("rl", {"model": "none", "pool": 0, "prior": 2})
# the model-based searchers fit a forest or a controller per batch: seconds a case, so not unit tests
HEAVY = {n for n, (base, _) in CASES.items() if base in ("rl", "surrogate")}
pytestmark = pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.train) if n in HEAVY else n for n in CASES])


def case(name):
    """The registered name and options of a case (a name not in ``CASES``: itself, no options)."""
    return CASES.get(name, (name, {}))


def mk(name, space, **kw):
    base, options = case(name)
    return make_searcher(base, space, **options, **kw)
LIMIT = 200  # more than the tiny space's raw size: every searcher must finish before this


def drive(searcher, n, scores=score_of):
    """Suggest/complete up to n times; the proposals in order (stops at FINISHED)."""
    out = []
    for _ in range(n):
        p = searcher.suggest()
        if p is FINISHED:
            out.append(FINISHED)
            break
        assert p is not WAIT, "a sequential caller must never be told to wait"
        out.append(p)
        value = scores(p.fingerprint)
        searcher.on_trial_complete(p.trial_id, score=value, status="ok")
    return out


def expressions(props):
    return [p if p is FINISHED else (p.trial_id, p.expression, p.fingerprint) for p in props]


def test_deterministic_per_seed(name, tiny_space):
    a = expressions(drive(mk(name, tiny_space, seed=7), 20))
    b = expressions(drive(mk(name, tiny_space, seed=7), 20))
    assert a == b
    if case(name)[0] != "exhaustive":
        assert a != expressions(drive(mk(name, tiny_space, seed=8), 20))


def test_never_repeats_a_fingerprint_and_finishes_covering_the_space(name, tiny_space):
    searcher = mk(name, tiny_space, seed=1)
    props = drive(searcher, LIMIT)
    assert props[-1] is FINISHED
    fps = [p.fingerprint for p in props[:-1]]
    assert len(fps) == len(set(fps))
    assert set(fps) == {fp for *_, fp in distinct(tiny_space)}  # every valid distinct candidate, once
    assert searcher.suggest() is FINISHED  # and stays finished
    for p in props[:-1]:
        assert p.activation().fingerprint == p.fingerprint
        assert tiny_space.from_tokens(p.tokens)


def test_failures_and_non_finite_scores_are_handled(name, tiny_space):
    searcher = mk(name, tiny_space, seed=2)
    bad = [(math.nan, "ok"), (math.inf, "ok"), (-math.inf, "ok"), (None, "error"), (0.9, "diverged"), (0.5, "timeout")]
    seen = set()
    for i in range(LIMIT):
        p = searcher.suggest()
        if p is FINISHED:
            break
        assert p.fingerprint not in seen
        seen.add(p.fingerprint)
        score, status = bad[i % len(bad)] if i % 2 else (score_of(p.fingerprint), "ok")
        searcher.on_trial_complete(p.trial_id, score=score, status=status)
    assert p is FINISHED
    searcher.on_trial_complete("no-such-trial", score=1.0)  # unknown ids are ignored
    json.dumps(searcher.state(), allow_nan=False)  # the state stays plain JSON


@pytest.mark.parametrize("cut", [0, 3, 8, 17])
def test_restore_mid_run_gives_the_same_next_suggestions(name, cut, tiny_space, tmp_path):
    original = mk(name, tiny_space, seed=3)
    drive(original, cut)
    pending = original.suggest()  # a trial still running when the state is saved
    path = tmp_path / "state.json"
    original.save(str(path))
    restored = mk(name, tiny_space, seed=3)
    restored.restore(str(path))
    for s in (original, restored):
        s.on_trial_complete(pending.trial_id, score=0.3, status="ok")
    assert expressions(drive(restored, 12)) == expressions(drive(original, 12))


def test_waits_only_while_trials_run_and_resumes(name, tiny_space):
    searcher = mk(name, tiny_space, seed=4)
    running, fps = [], set()
    for _ in range(LIMIT):
        p = searcher.suggest()
        if p is FINISHED:
            break
        if p is WAIT:
            assert running, "WAIT with nothing running"
            searcher.on_trial_complete(running.pop(0).trial_id, score=0.5)
            continue
        assert p.fingerprint not in fps
        fps.add(p.fingerprint)
        running.append(p)
        if len(running) > 10:  # a pool of 10 concurrent trials
            searcher.on_trial_complete(running.pop(0).trial_id, score=0.5)
    assert p is FINISHED and len(fps) == len(list(distinct(tiny_space)))


def test_unknown_names_and_options_are_user_errors(name, tiny_space):
    with pytest.raises(UserError, match="valid: "):
        make_searcher(case(name)[0] + "-nope", tiny_space)
    with pytest.raises(UserError):
        mk(name, tiny_space, no_such_option=1)
