"""Candidates as expression text, Activations and library names (the grammar's contract)."""

from __future__ import annotations

import pytest

import actsearch
from actsearch.evaluators import evaluate, get_task
from actsearch.evaluators.candidate import as_candidate
from actsearch.evaluators.result import DIVERGED, INVALID, OK
from tests.helpers.evaluators import TINY

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier


def test_constant_expression_is_invalid_before_training():
    res = evaluate("1.5", "mnist1d", seeds=(0, 1), **TINY["mnist1d"])
    assert res.status == INVALID and res.score == 0.0 and "constant" in res.error
    assert all(r.status == INVALID and r.wall_s == 0.0 for r in res.runs)


def test_triple_exponential_is_rejected_and_the_next_text_evaluation_works():
    task = get_task("mnist1d", **TINY["mnist1d"])
    bad = evaluate("exp(exp(exp(x)))", task)
    assert bad.status in (DIVERGED, INVALID) and bad.score == 0.0
    good = evaluate("x * sigmoid(beta * x)", task, seeds=(0, 1))
    assert good.status == OK and 0.1 < good.score <= 1.0 and "pd" in good.metrics


def test_activation_object_and_library_names_evaluate():
    act = actsearch.parse("x * sigmoid(beta * x)", beta=1.0)
    by_object = evaluate(act, "digits", steps=40)
    by_text = evaluate("x * sigmoid(beta * x)", "digits", steps=40)
    assert by_object.status == OK and by_object.score == by_text.score
    assert evaluate("swish", "digits", steps=40).score == by_text.score  # the name is its expression
    for name in ("helu", "smelu", "prelu"):  # module-only and expression-backed library entries
        res = evaluate(name, "digits", steps=20)
        assert res.status == OK, (name, res.error)


def test_learnable_constant_is_one_scalar_per_layer():
    task = get_task("mnist1d", **TINY["mnist1d"])
    cand = as_candidate("x * sigmoid(beta * x)")
    made = []

    def factory():
        made.append(cand.factory())
        return made[-1]

    from actsearch.evaluators.networks import MLP

    model = MLP(40, 8, task.config.depth, 10, factory)
    betas = [p for m in made for p in m.parameters()]
    assert len(made) == task.config.depth and len(betas) == task.config.depth
    assert all(p.numel() == 1 for p in betas)
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_prelu_solves_single_neuron_xor_and_relu_does_not():
    prelu = evaluate("prelu", "xor", trials=4)
    relu = evaluate("relu", "xor", trials=4)
    assert prelu.status == relu.status == OK
    assert prelu.score == 1.0 and relu.score == 0.0


def test_he_gain_comes_from_the_grammar():
    cand = as_candidate("x * sigmoid(x)")
    assert abs(cand.he_gain() - actsearch.parse("x * sigmoid(x)").properties()["gain"]) < 1e-9
    assert abs(as_candidate("relu").he_gain() - 2 ** 0.5) < 0.02


def test_library_names_resolve_through_the_one_resolver():
    """A library name is its expression with the library's constants (``library.resolve``); a
    module-only one is the library's module; a constant a function lacks is refused at once."""
    from actsearch.grammar.library import LibraryError, resolve

    swish = as_candidate("swish")
    assert swish.label == "swish" and swish.activation.fingerprint == resolve("x * sigmoid(beta * x)").fingerprint
    assert as_candidate("prelu").activation.params == {"alpha": 0.25} == resolve("prelu").params
    assert as_candidate("prelu", alpha=0.5).activation.params == {"alpha": 0.5}
    assert as_candidate("relu").activation.text == resolve("relu").text and as_candidate("relu").invalid is None
    helu = as_candidate("helu", alpha=0.1)
    assert helu.activation is None and helu.factory().alpha == 0.1
    for name, params in (("swish", {"alpha": 1.0}), ("helu", {"beta": 1.0}), ("gelu", {"beta": 2.0})):
        with pytest.raises(LibraryError, match="has no parameter"):
            as_candidate(name, **params)
