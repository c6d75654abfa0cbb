"""Deduplication: equal fingerprints collapse to the first seen, trivial candidates are invalid."""

from __future__ import annotations

from actsearch.search.space.dedup import ALIAS, INVALID, NEW, Dedup, analyse, count_distinct, distinct
from loophelper import FINISHED, make_searcher


def test_dedup_verdicts():
    d = Dedup()
    v = d.check("x * sigmoid(x)")
    assert v.kind == NEW
    d.claim(v.fingerprint, "t000000")
    alias = d.check("sigmoid(x) * x")
    assert (alias.kind, alias.alias_of, alias.fingerprint) == (ALIAS, "t000000", v.fingerprint)
    constant = d.check("x - x")
    assert constant.kind == INVALID and constant.reason == "constant"
    d.claim(constant.fingerprint, "")
    again = d.check("sin(x) - sin(x)")  # same fingerprint as an invalid one
    assert again.kind == INVALID and again.alias_of is None
    restored = Dedup()
    restored.load_state(d.state())
    assert restored.check("sigmoid(x) * x").alias_of == "t000000"


def test_analyse_is_cached_and_param_aware():
    fp1, reason = analyse("x * sigmoid(beta * x)", {"beta": 1.0})
    assert reason is None
    assert analyse("x * sigmoid(beta * x)", {"beta": 1.0}) == (fp1, None)


def test_exhaustive_walk_reports_aliases_and_invalid_ones(tiny_space):
    searcher = make_searcher("exhaustive", tiny_space)
    proposals, skipped = [], []
    while (p := searcher.suggest()) is not FINISHED:
        proposals.append(p)
        skipped += searcher.pop_skipped()
        searcher.on_trial_complete(p.trial_id, score=0.5)
    skipped += searcher.pop_skipped()
    assert len(proposals) + len(skipped) == tiny_space.raw_size  # every raw candidate accounted for
    by_id = {p.trial_id: p for p in proposals}
    aliases = [s for s in skipped if s["status"] == ALIAS]
    invalid = [s for s in skipped if s["status"] == INVALID]
    assert aliases and invalid
    for s in aliases:  # an alias points at the first proposal with its fingerprint
        assert by_id[s["alias_of"]].fingerprint == s["fingerprint"]
    assert any(s["expression"] == "x + -x" and s["reason"] == "constant" for s in invalid)
    assert any(s["expression"] == "x - x" and s["reason"] == "alias of invalid" for s in invalid)
    stats = count_distinct(tiny_space)
    assert stats["distinct"] == len(proposals) == len(list(distinct(tiny_space)))
    assert stats["raw"] == tiny_space.raw_size and stats["seconds"] >= 0
