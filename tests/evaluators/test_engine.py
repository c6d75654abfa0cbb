"""The one training loop over its three engines, and the one choice of engine.

Each engine (one network by autograd, the hand-differentiated MLP stack, the vmapped stack) trains
one member through :func:`train` as the single network does; :func:`choose_engine` picks the
engine from the network and the pack's shape; losses checked lazily (as on a GPU) still record a
member's first non-finite step.
"""

from __future__ import annotations

import pytest
import torch

from actsearch.evaluators import get_task
from actsearch.evaluators.candidate import as_candidate
from actsearch.evaluators.result import DIVERGED, OK
from actsearch.evaluators.training.engine import Engine, EngineKind, choose_engine, member_form
from actsearch.evaluators.training.loop import train
from actsearch.evaluators.training.single import SingleNetwork
from actsearch.evaluators.training.stacked import StackedNet
from actsearch.evaluators.training.stacked_mlp import StackedMLP
from tests.helpers.evaluators import TINY, TripleExp

LEARNABLE = "x * sigmoid(beta * x)"


def _built(task, cand, seeds):
    out = []
    for seed in seeds:
        torch.manual_seed(seed)
        out.append(task.build(cand, None))
    return out


def test_choose_engine_by_network_and_pack():
    relu = as_candidate("relu")
    mlp = get_task("mnist1d", **TINY["mnist1d"]).build(relu, None)[0]
    cnn = get_task("mnist1d-cnn", **TINY["mnist1d-cnn"]).build(relu, None)[0]
    batch_norm = get_task("mnist1d-resnet", **TINY["mnist1d-resnet"]).build(relu, None)[0]
    assert choose_engine(mlp, candidates=1, seeds=1) is EngineKind.SINGLE
    assert choose_engine(mlp, candidates=1, seeds=2) is EngineKind.STACKED_MLP
    assert choose_engine([mlp, mlp], candidates=2, seeds=1) is EngineKind.STACKED_MLP  # one seed each
    assert choose_engine(cnn, candidates=1, seeds=2) is EngineKind.STACKED_NET
    assert choose_engine(cnn, candidates=3, seeds=1) is EngineKind.SINGLE  # three stacks of one
    assert choose_engine([mlp, cnn], candidates=1, seeds=2) is EngineKind.STACKED_NET
    assert choose_engine(batch_norm, candidates=2, seeds=5) is EngineKind.SINGLE
    assert get_task("mnist1d", **TINY["mnist1d"]).stacks_candidates()
    assert not get_task("mnist1d-cnn", **TINY["mnist1d-cnn"]).stacks_candidates()
    assert member_form(as_candidate(torch.nn.ReLU)) is None  # a user's module trains seed by seed


@pytest.mark.train  # trains networks: not in the quick unit tier
def test_every_engine_trains_one_member_as_the_single_network(one_thread):
    """Swish with a learnable β, one seed, through the one loop on each engine: the same run up to
    float reassociation (the stacks report ``pack``; the single network does not)."""
    task = get_task("mnist1d", **{**TINY["mnist1d"], "steps": 30})
    cand, split, cfg = as_candidate(LEARNABLE), task.split(), task.config
    engines = {
        "single": SingleNetwork(*_built(task, cand, (4,))[0]),
        "mlp": StackedMLP([m for m, _ in _built(task, cand, (4,))], [(member_form(cand), 1)]),
        "net": StackedNet(*map(list, zip(*_built(task, cand, (4,)), strict=True)), [1], 2),
    }
    got = {}
    for name, engine in engines.items():
        assert isinstance(engine, Engine)
        reports = []
        [(res, pred)] = train(engine, split, cfg, [4], reports=[lambda k, s, r=reports: r.append(k)])
        assert res.status == OK and reports == [1, 2, 3, 4] and pred is not None and len(pred) == len(split.y_test)
        got[name] = res
    one = got["single"]
    assert "pack" not in one.metrics and "learned.beta" in one.metrics
    for name in ("mlp", "net"):
        res = got[name]
        assert res.metrics["pack"] == 1 and set(res.metrics) == set(one.metrics) | {"pack"}
        assert abs(res.score - one.score) <= 1.5 / task.config.val_size
        for key in ("val_loss", "train_loss", "learned.beta", "learned.beta.sd", "dnr"):
            assert res.metrics[key] == pytest.approx(one.metrics[key], rel=1e-4, abs=1e-6), (name, key)


@pytest.mark.train  # trains networks: not in the quick unit tier
def test_lazy_checks_record_the_first_non_finite_step(one_thread):
    """Losses checked only every LAZY_CHECK steps (and at checkpoints), as on a GPU: a member whose
    loss is not finite from step 1 is still recorded diverged at step 1, and the others end as they
    do when it is dropped at once."""
    task = get_task("mnist1d", **{**TINY["mnist1d"], "steps": 30})
    cand, split, cfg = as_candidate("swish"), task.split(), task.config

    def poisoned():
        net = StackedMLP([m for m, _ in _built(task, cand, (0, 1, 2))], [(member_form(cand), 3)])
        with torch.no_grad():
            net.weights[0][1, 0, 0] = float("inf")
        return net

    eager = train(poisoned(), split, cfg, (0, 1, 2), lazy=False)
    lazy = train(poisoned(), split, cfg, (0, 1, 2), lazy=True)
    for runs in (eager, lazy):
        failed = runs[1][0]
        assert failed.status == DIVERGED and failed.step == 1 and failed.error == "loss is not finite at step 1"
        assert failed.metrics["steps"] == 1 and failed.metrics["checkpoints"] == []
    for (re, _), (rl, _) in zip((eager[0], eager[2]), (lazy[0], lazy[2]), strict=True):
        assert re.status == rl.status == OK and re.score == pytest.approx(rl.score, abs=1.5 / cfg.val_size)
        assert re.metrics["val_loss"] == pytest.approx(rl.metrics["val_loss"], rel=1e-4)
    bad = as_candidate(TripleExp)
    steps = [train(SingleNetwork(*_built(task, bad, (0,))[0]), split, cfg, [0], lazy=flag)[0][0] for flag in (False, True)]
    assert steps[0].status == steps[1].status == DIVERGED and steps[0].step == steps[1].step
    assert steps[0].error == steps[1].error
