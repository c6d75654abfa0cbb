"""Shape distance (modulo affine maps and sign/reflection) and the evolution searcher's use of it."""

from __future__ import annotations

import csv
import json
import statistics

import pytest

from actsearch.evaluators.table import TableTask
from actsearch.grammar import parse
from actsearch.grammar.library import NAMES, defaults, expression
from actsearch.search.space.dedup import distinct
from actsearch.search.space.files import load_space
from actsearch.search.space.similarity import FAR, distance, signature, signature_of
from tests.helpers.loop import make_searcher, run_search
from tests.helpers.scoring import score_of


def d(a: str, b: str) -> float:
    return distance(signature(parse(a)), signature(parse(b)))


@pytest.mark.parametrize(
    "a, b",
    [
        ("x * sigmoid(x)", "x * sigmoid(-x)"),  # -swish(-x)
        ("x * sigmoid(x)", "-x * sigmoid(x)"),
        ("x * sigmoid(x)", "3 * x * sigmoid(x) - 2"),
        ("max(x, 0)", "min(x, 0)"),  # min(x, 0) = -relu(-x)
        ("x", "2 * x + 1"),
    ],
)
def test_affine_maps_and_reflections_cost_nothing(a, b):
    assert d(a, b) == pytest.approx(0.0, abs=1e-12)


def test_distance_orders_shapes_as_expected():
    assert d("x * sigmoid(x)", "x * sigmoid(1.1 * x)") < d("x * sigmoid(x)", "max(x, 0)") < d("x * sigmoid(x)", "x")
    assert d("x", "x^2") == pytest.approx(2.0, abs=1e-9)  # even vs odd: uncorrelated
    assert d("sin(x)", "cos(x)") > 1.0


def test_shapeless_functions_are_far_from_everything():
    assert signature(parse("exp(exp(exp(x)))")) is None  # overflows on [-4, 4]
    assert signature(parse("beta", beta=0.5)) is None
    assert distance(None, signature(parse("x"))) == FAR
    assert signature_of("x * sigmoid(beta * x)", {"beta": 1.0}) is signature_of("x * sigmoid(beta * x)", {"beta": 1.0})


def test_distance_is_a_symmetric_bounded_score_on_the_library():
    sigs = [signature(parse(expression(n), **defaults(n))) for n in NAMES if expression(n)]
    assert len(sigs) >= 8
    for a in sigs:
        for b in sigs:
            assert 0.0 <= distance(a, b) <= FAR
            assert distance(a, b) == pytest.approx(distance(b, a), abs=1e-12)


@pytest.mark.train
def test_children_stay_close_to_their_parents_in_shape(tmp_path):
    """The default child is a small step in function space; uniform mutation (temperature 0) is not."""
    space = load_space("x-gated")
    rows = [{"expression": text, "params": json.dumps(params), "fingerprint": fp, "status": "ok",
             "score": score_of(fp)} for _, text, params, fp in distinct(space)]
    path = tmp_path / "t.csv"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    task = TableTask(path)

    def mean_step(**options):
        steps = []
        for seed in range(5):
            trials = run_search(make_searcher("evolution", space, seed=seed, **options), task, budget=60)
            by_id = {t.proposal.pid: t.proposal for t in trials}
            for t in trials:
                parent = by_id.get(t.proposal.parent)
                if parent is not None:
                    steps.append(distance(signature_of(parent.expression, parent.params),
                                          signature_of(t.proposal.expression, t.proposal.params)))
        assert len(steps) > 100
        return statistics.mean(steps)

    local, uniform = mean_step(), mean_step(temperature=0)
    assert local < 0.6 * uniform, (local, uniform)
