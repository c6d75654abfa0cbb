"""The exhaustive searcher's shuffled walk: every raw candidate once, in a seeded random order, so
a run stopped early has scored a uniform sample; a restored walk continues where it stopped."""

from __future__ import annotations

import json

import pytest

from actsearch.search.searchers import FINISHED, SearcherError, make_searcher


def _walk(searcher, n=10_000):
    out = []
    for pid in range(n):
        p = searcher.ask(pid)
        if p is FINISHED:
            break
        out.append(tuple(p.tokens))
    return out


def test_shuffled_walk_covers_every_raw_candidate_once_in_a_seeded_order(tiny_space):
    plain = _walk(make_searcher("exhaustive", tiny_space))
    a = _walk(make_searcher("exhaustive", tiny_space, seed=3, order="shuffled"))
    assert len(a) == len(plain) == tiny_space.raw_size and sorted(a) == sorted(plain)
    assert a != plain  # another order
    assert a == _walk(make_searcher("exhaustive", tiny_space, seed=3, order="shuffled"))
    assert a != _walk(make_searcher("exhaustive", tiny_space, seed=4, order="shuffled"))


def test_shuffled_walk_resumes_from_its_state(tiny_space):
    first = make_searcher("exhaustive", tiny_space, seed=5, order="shuffled")
    head = _walk(first, 9)
    again = make_searcher("exhaustive", tiny_space, seed=5, order="shuffled")
    again.load_state(json.loads(json.dumps(first.state())))
    assert head + _walk(again) == _walk(make_searcher("exhaustive", tiny_space, seed=5, order="shuffled"))


def test_unknown_order_is_a_user_error(tiny_space):
    with pytest.raises(SearcherError, match="order must be one of enumeration, shuffled"):
        make_searcher("exhaustive", tiny_space, order="backwards")
