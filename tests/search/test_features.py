"""Features (shape properties, signal propagation), the pre-screen and the ``features`` command."""

from __future__ import annotations

import json
import math
import sys

import numpy as np
import pytest

import actsearch
from actsearch.search.screening.features import (
    BIG,
    PARAM_VALUES,
    PROPAGATION_NAMES,
    PROXY_NAMES,
    SCALAR_NAMES,
    Featurizer,
    default_probe,
    probe_for,
    propagation_features,
    proxy_features,
    scalar_features,
)
from actsearch.search.screening.prescreen import PreScreen, Thresholds, reason

N_FEATURES = len(PARAM_VALUES) * (len(SCALAR_NAMES) + len(PROPAGATION_NAMES)) + len(PROXY_NAMES)


@pytest.fixture(scope="module")
def featurizer():
    return Featurizer()  # task-free Gaussian probe: fast


def test_scalar_features_match_closed_forms():
    relu = scalar_features(actsearch.parse("relu(x)").module())
    assert relu["e_f2"] == pytest.approx(0.5, abs=2e-3)  # E[max(z,0)^2] = 1/2
    assert relu["e_f"] == pytest.approx(1 / math.sqrt(2 * math.pi), abs=2e-3)
    assert relu["e_df2"] == pytest.approx(0.5, abs=2e-3)
    assert relu["monotonic"] == 1.0 and relu["min6"] == 0.0
    assert relu["flat_frac"] == pytest.approx(0.5, abs=2e-3)
    assert (relu["growth_left"], relu["growth_right"]) == (0.0, pytest.approx(1.0))
    tanh = scalar_features(actsearch.parse("tanh(x)").module())
    assert tanh["min6"] == pytest.approx(-1.0, abs=1e-4) and tanh["df0"] == pytest.approx(1.0)
    assert tanh["growth_right"] == pytest.approx(0.1, abs=1e-4)
    cos = scalar_features(actsearch.parse("cos(x)").module())
    assert cos["monotonic"] == 0.0 and cos["f0"] == pytest.approx(1.0)
    # E[cos z] = exp(-1/2)
    assert cos["e_f"] == pytest.approx(math.exp(-0.5), abs=2e-3)


def test_non_finite_values_are_clipped_and_flagged():
    feats = scalar_features(actsearch.parse("exp(exp(exp(x)))").module())
    assert all(math.isfinite(v) for v in feats.values())
    assert feats["nonfinite"] > 0


def test_several_parameter_values_separate_what_beta_1_hides(featurizer):
    """beta*x + (1-beta)*x^2 is the identity at beta = 1; the other values tell it from x."""
    ident = featurizer.as_dict(actsearch.parse("x"))
    mix = featurizer.as_dict(actsearch.parse("beta * x + (1 - beta) * x^2"))
    assert len(mix) == N_FEATURES
    assert mix["e_f2@1"] == pytest.approx(ident["e_f2@1"], rel=1e-3)
    assert mix["e_f2@2"] > 2 * ident["e_f2@2"]
    assert mix["min6@0.5"] != pytest.approx(ident["min6@0.5"])
    # a candidate without a learnable constant has the same row at every value
    assert ident["e_df2@0.5"] == ident["e_df2@2"] == ident["e_df2@1"]


def test_features_are_deterministic_and_cached(featurizer):
    act = actsearch.parse("x * sigmoid(beta * x)")
    a = featurizer.vector(act)
    b = Featurizer().vector(actsearch.parse("x * sigmoid(beta * x)"))
    assert np.array_equal(a, b)
    assert featurizer.vector(act) is a  # cached
    assert featurizer.matrix([act, actsearch.parse("tanh(x)")]).shape == (2, len(featurizer.names))


def test_propagation_separates_stable_from_exploding():
    probe = default_probe()
    relu = propagation_features(actsearch.parse("relu(x)").module, probe)
    cube = propagation_features(actsearch.parse("x^3").module, probe)
    assert relu["prop_nonfinite"] == 0.0 and abs(relu["log_std_last"]) < 2
    assert cube["prop_nonfinite"] == 1.0 or cube["log_std_last"] > 10
    tiny = propagation_features(actsearch.parse("0.1 * tanh(x)").module, probe)
    assert tiny["log_std_last"] < relu["log_std_last"] - 5  # the signal shrinks ~10x per layer


@pytest.mark.train
def test_proxy_trains_a_few_steps_and_flags_what_cannot_train():
    probe = probe_for("digits")
    relu = proxy_features(actsearch.parse("relu(x)").module, probe)
    assert relu["proxy_loss"] < math.log(10) - 0.1 and relu["proxy_acc"] > 0.3  # it learned (chance: 0.1)
    assert proxy_features(actsearch.parse("relu(x)").module, probe) == relu  # fixed seeds
    longer = proxy_features(actsearch.parse("relu(x)").module, probe, steps=60)
    assert longer["proxy_loss"] < relu["proxy_loss"] - 0.3
    flat = proxy_features(actsearch.parse("0.001 * tanh(x)").module, probe)  # the signal dies in 2 layers
    assert flat["proxy_loss"] > relu["proxy_loss"] + 0.1 and flat["proxy_acc"] < 0.15
    boom = proxy_features(actsearch.parse("exp(exp(exp(x)))").module, probe)
    assert boom == {"proxy_loss": BIG, "proxy_acc": 0.0}


def test_proxy_can_be_left_out():
    without = Featurizer(proxy_steps=0)
    assert not set(PROXY_NAMES) & set(without.names)
    full = Featurizer()
    act = actsearch.parse("x * sigmoid(beta * x)")
    assert np.array_equal(without.vector(act), full.vector(act)[: len(without.names)])
    assert full.names[-2:] == list(PROXY_NAMES)


def test_prescreen_rejects_exploding_and_keeps_good_ones():
    screen = PreScreen()
    for good in ("relu(x)", "x * sigmoid(beta * x)", "tanh(x)", "max(x, sigmoid(x))"):
        assert screen(actsearch.parse(good)) is None, good
    why = screen(actsearch.parse("exp(exp(x))"))
    assert why is not None and why.startswith("pre-screen:")
    res = screen.result(actsearch.parse("exp(exp(x))"))
    assert res.status == "invalid" and res.error == why
    assert screen.result(actsearch.parse("relu(x)")) is None


def test_the_prescreen_reads_the_shared_featurizer_of_its_task():
    from actsearch.search.screening.features import shared_featurizer

    screen = PreScreen()
    assert screen.featurizer is shared_featurizer(None)  # the surrogate ranks with this same one
    bad, good = actsearch.parse("exp(exp(x))"), actsearch.parse("tanh(x)")
    assert screen(bad) is not None and screen(good) is None
    assert screen.features(good) == screen.featurizer.initial_propagation(good)


def test_reason_follows_the_thresholds():
    feats = {"log_std_last": 3.0, "prop_nonfinite": 0.0}
    assert reason(feats) is None
    assert "exploding" in reason(feats, Thresholds(max_log_std=2.0))
    assert "vanishing" in reason({"log_std_last": -3.0, "prop_nonfinite": 0.0}, Thresholds(min_log_std=-2.0))
    assert "non-finite" in reason({"log_std_last": 1.0, "prop_nonfinite": 1.0})


@pytest.mark.train
def test_task_probe_uses_the_task_network_and_real_data():
    probe = probe_for("digits")
    assert probe.inputs.shape[1] == 64 and probe.targets.max() <= 9
    feats = Featurizer("digits").as_dict(actsearch.parse("relu(x)"))
    assert math.isfinite(feats["log_std_last@1"]) and feats["prop_nonfinite@1"] == 0.0


@pytest.mark.train
def test_features_command_json(monkeypatch, capsys):
    from actsearch import cli

    monkeypatch.setattr(sys, "argv", ["actsearch", "features", "x * sigmoid(beta * x)", "--task", "digits", "--json"])
    with pytest.raises(SystemExit) as done:
        cli.main()
    assert done.value.code in (0, None)
    data = json.loads(capsys.readouterr().out)
    assert data["prescreen"] == "pass" and data["task"] == "digits"
    assert len(data["features"]) == N_FEATURES
    assert data["features"]["proxy_loss"] < math.log(10) - 0.1  # 20 Adam steps on digits learn something
    assert data["features"]["df0@2"] == pytest.approx(0.5)  # d/dx x·σ(βx) at 0 is 1/2 for every β


def test_features_command_user_errors(monkeypatch, capsys):
    from actsearch import cli

    for argv in (["x +* 2"], ["x", "--task", "no-such-task"]):
        monkeypatch.setattr(sys, "argv", ["actsearch", "features", *argv])
        with pytest.raises(SystemExit) as done:
            cli.main()
        err = capsys.readouterr().err
        assert done.value.code == 2 and err.startswith("error:") and "Traceback" not in err
