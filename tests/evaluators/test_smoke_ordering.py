"""The small task recommended for the smoke pipeline (the deep MLP on MNIST-1D, 400 steps) orders
functions as a user would believe: Swish and GELU above ReLU, linear functions far below."""

from __future__ import annotations

import statistics

import pytest

from actsearch.evaluators import evaluate

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

SMOKE = {"steps": 400}  # benchmarks/bench_smoke_task.py --steps 400: swish 0.572, gelu 0.566, relu 0.514, x+x 0.309


def test_swish_and_gelu_beat_relu_and_linear_functions_rank_last():
    mean = {c: statistics.fmean(r.score for r in evaluate(c, "mnist1d", seeds=(0, 1), **SMOKE).runs)
            for c in ("swish", "gelu", "relu", "x + x", "x + beta*x")}
    assert mean["swish"] > mean["relu"] + 0.02 and mean["gelu"] > mean["relu"] + 0.02, mean
    assert mean["relu"] > max(mean["x + x"], mean["x + beta*x"]) + 0.1, mean
