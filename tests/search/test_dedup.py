"""Deduplication: equal fingerprints collapse to the first seen, trivial candidates are invalid."""

from __future__ import annotations

from actsearch.evaluators.result import INVALID
from actsearch.search.space.dedup import analyse, count_distinct, distinct
from tests.helpers.loop import FINISHED, make_searcher


def test_analyse_collapses_equal_functions_and_flags_trivial_ones():
    fp, reason = analyse("x * sigmoid(x)")
    assert reason is None and analyse("sigmoid(x) * x") == (fp, None)
    constant = analyse("x - x")
    assert constant[1] == "constant" and analyse("sin(x) - sin(x)")[0] == constant[0]


def test_analyse_is_cached_and_param_aware():
    fp1, reason = analyse("x * sigmoid(beta * x)", {"beta": 1.0})
    assert reason is None
    assert analyse("x * sigmoid(beta * x)", {"beta": 1.0}) == (fp1, None)


def test_the_loop_records_aliases_and_invalid_ones_of_an_exhaustive_walk(tiny_space):
    searcher = make_searcher("exhaustive", tiny_space)
    proposals = []
    while (p := searcher.suggest()) is not FINISHED:
        proposals.append(p)
        searcher.on_trial_complete(p.trial_id, score=0.5)
    rows = searcher.store.candidates()
    aliases = [r for r in rows if r.alias_of is not None]
    invalid = [r for r in rows if r.status == INVALID and r.alias_of is None]
    assert aliases and invalid and not [r for r in rows if r.trained and r.status != "ok"]
    by_id = {r.id: r for r in rows}
    for r in aliases:  # an alias points at the first proposal with its fingerprint
        assert by_id[r.alias_of].fingerprint == r.fingerprint and by_id[r.alias_of].trained
    assert any(r.expression == "x + -x" and r.error == "constant" for r in invalid)
    # "x - x" is the same constant function: the loop keeps one invalid row per fingerprint
    assert not any(r.expression == "x - x" for r in rows)
    texts = {r.expression for r in rows}
    walked = [tiny_space.to_text(tiny_space.at(i))[0] for i in range(tiny_space.raw_size)]
    assert {t for t in walked if analyse(t)[0] not in {r.fingerprint for r in invalid}} <= texts
    stats = count_distinct(tiny_space)
    assert stats["distinct"] == len(proposals) == len(list(distinct(tiny_space)))
    assert stats["raw"] == tiny_space.raw_size and stats["seconds"] >= 0
