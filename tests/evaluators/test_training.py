"""Training core: determinism, failure statuses, metrics, init and head options."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from actsearch.evaluators import evaluate, get_task
from actsearch.evaluators.metrics import dead_neuron_rate, prediction_difference
from actsearch.evaluators.networks import MLP
from actsearch.evaluators.result import DIVERGED, ERROR, OK, TIMEOUT
from tests.helpers.evaluators import TINY, Broken, Constant, TripleExp

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier


def test_same_seed_same_score_on_cpu():
    task = get_task("mnist1d", **TINY["mnist1d"])
    a, b, c = (task.evaluate_seed(nn.SiLU, s) for s in (3, 3, 4))
    assert a.status == b.status == OK
    assert a.score == b.score and a.metrics["val_loss"] == b.metrics["val_loss"]
    assert a.metrics["checkpoints"] == b.metrics["checkpoints"]
    assert (c.score, c.metrics["val_loss"]) != (a.score, a.metrics["val_loss"])


def test_relu_clearly_beats_a_constant_candidate():
    relu = evaluate(nn.ReLU, "digits", steps=150)
    const = evaluate(Constant, "digits", steps=150)
    assert relu.status == OK and const.status == OK
    assert const.score < 0.25  # chance level: the constant passes no information
    assert relu.score > const.score + 0.5
    assert const.runs[0].metrics["dnr"] == 1.0  # f' = 0 everywhere: every unit is dead


def test_divergence_is_recorded_and_next_evaluation_works():
    task = get_task("mnist1d", **TINY["mnist1d"])
    before = task.evaluate_seed(nn.ReLU, 0)
    bad = task.evaluate_seed(TripleExp, 0)
    assert bad.status == DIVERGED and bad.score == 0.0
    assert bad.step is not None and bad.step >= 1 and "step" in bad.error
    after = task.evaluate_seed(nn.ReLU, 0)
    assert after.status == OK and after.score == before.score
    assert after.metrics["val_loss"] == before.metrics["val_loss"] and after.metrics["dnr"] == before.metrics["dnr"]


def test_exploding_weights_count_as_diverged():
    res = evaluate(nn.ReLU, "digits", steps=30, max_weight=1e-3)
    assert res.status == DIVERGED and "weights exploded" in res.error


def test_exception_is_an_error_result_with_one_line_message():
    res = evaluate(Broken, "digits", seeds=(0, 1), steps=5)
    assert res.status == ERROR and res.score == 0.0
    assert res.error.startswith("RuntimeError: broken activation") and "\n" not in res.error
    assert [r.status for r in res.runs] == [ERROR, ERROR]


def test_time_limit_gives_timeout():
    res = evaluate(nn.ReLU, "digits", steps=100000, time_limit_s=0.3)
    assert res.status == TIMEOUT and res.runs[0].step < 100000 and res.runs[0].wall_s < 5


def test_threads_are_set_per_evaluation_and_restored():
    seen = []

    class Probe(nn.ReLU):
        def forward(self, x):
            seen.append(torch.get_num_threads())
            return super().forward(x)

    before = torch.get_num_threads()
    get_task("digits", steps=2).evaluate_seed(Probe, 0, threads=1)
    assert seen and set(seen) == {1}
    assert torch.get_num_threads() == before


def test_dead_neuron_rate_counts_units_dead_on_every_sample():
    model = MLP(4, 10, 1, 2, nn.ReLU)
    with torch.no_grad():
        model[0].weight.zero_()
        model[0].bias.copy_(torch.tensor([-1.0] * 3 + [1.0] * 7))  # 3 units always negative
    x = torch.randn(50, 4)
    assert dead_neuron_rate(model, [model[1]], x) == pytest.approx(0.3)
    assert dead_neuron_rate(nn.Sequential(nn.Linear(4, 5), nn.SiLU()), [], x) == 0.0


def test_prediction_difference():
    a, b, c = torch.tensor([0, 1, 2, 3]), torch.tensor([0, 1, 2, 0]), torch.tensor([1, 1, 2, 0])
    assert prediction_difference([a]) is None
    assert prediction_difference([a, b]) == pytest.approx(0.25)
    assert prediction_difference([a, b, c]) == pytest.approx((0.25 + 0.5 + 0.25) / 3)


def test_init_options_set_hidden_weight_scale():
    torch.manual_seed(0)
    he = MLP(400, 400, 2, 10, nn.ReLU, init="he-relu")
    own = MLP(400, 400, 2, 10, nn.Tanh, init="he-gain", gain=1.0)
    default = MLP(400, 400, 2, 10, nn.ReLU, init="default")
    assert he[2].weight.std().item() == pytest.approx(math.sqrt(2 / 400), rel=0.05)
    assert own[2].weight.std().item() == pytest.approx(math.sqrt(1 / 400), rel=0.05)
    assert default[2].weight.std().item() == pytest.approx(1 / math.sqrt(3 * 400), rel=0.05)
    assert he[0].bias.abs().max() == 0 and default[0].bias.abs().max() > 0


def test_he_gain_and_head_activation_train():
    for kw in ({"init": "he-gain"}, {"init": "default"}, {"head": "activation"}):
        res = evaluate(nn.SiLU, "digits", steps=100, **kw)
        assert res.status == OK and res.score > 0.5, (kw, res.error)


def test_candidate_gain_estimate_matches_he():
    from actsearch.evaluators.candidate import as_candidate

    assert as_candidate(nn.ReLU).he_gain() == pytest.approx(math.sqrt(2), rel=0.02)
    assert as_candidate(nn.Identity).he_gain() == pytest.approx(1.0, rel=0.02)


def test_an_exception_from_report_propagates():
    class Stop(Exception):
        pass

    def report(iteration, score):
        raise Stop("stop this trial")

    with pytest.raises(Stop):
        evaluate(nn.ReLU, "digits", steps=8, report=report)
