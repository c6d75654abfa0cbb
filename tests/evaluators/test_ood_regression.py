"""The out-of-distribution regression task: its score on hand-made predictions, and an end-to-end run."""

from __future__ import annotations

import pytest
import torch

from actsearch.evaluators import evaluate, get_task
from actsearch.evaluators.regression import TARGETS, data, ood_score

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier


def test_score_is_one_for_exact_and_one_half_for_the_mean():
    cfg = get_task("ood-regression").config
    x_train, y_train, x_test, y_test = data(cfg)
    assert x_train.abs().max() <= cfg.train_range
    assert (x_test.abs() > cfg.train_range).all() and x_test.abs().max() == pytest.approx(cfg.test_range)
    assert y_test.shape == (cfg.test_size, len(TARGETS))
    assert ood_score(y_test, y_test)[0] == pytest.approx(1.0)
    assert ood_score(y_test.mean(0).expand_as(y_test), y_test)[0] == pytest.approx(0.5)
    assert ood_score(torch.full_like(y_test, float("nan")), y_test)[0] == 0.0


def test_trains_end_to_end_deterministically():
    a = evaluate("x * sigmoid(beta * x)", "ood-regression", seeds=(0,), steps=30)
    b = evaluate("x * sigmoid(beta * x)", "ood-regression", seeds=(0,), steps=30)
    assert a.status == "ok" and 0.0 < a.score < 1.0 and a.score == b.score
    assert set(a.runs[0].metrics) >= {f"ood_nmse/{k}" for k in TARGETS}
    assert evaluate("exp(exp(exp(x)))", "ood-regression", seeds=(0,), steps=30).status == "diverged"
