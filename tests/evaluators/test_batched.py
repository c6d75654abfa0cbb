"""The batched trainer against the sequential one (its oracle), and its fault handling.

Which equivalence holds (measured on the deep MLP, 7 × Linear(100), 100 steps): for swish the
batched per-seed accuracies equal the sequential ones and the losses agree to ~1e-6 (the
members' sums are reassociated); for relu single examples can flip, so the per-seed accuracies
agree to a few examples and the 5-seed means to within 0.5 pooled sd.
"""

from __future__ import annotations

import math
import statistics

import pytest
import torch
from torch import nn

from actsearch.evaluators import evaluate, get_task
from actsearch.evaluators.candidate import as_candidate
from actsearch.evaluators.result import DIVERGED, INVALID, OK, TIMEOUT
from actsearch.evaluators.scoring import evaluate_pack
from actsearch.evaluators.training.packs import train_pack
from actsearch.evaluators.training.stacked_mlp import StackedMLP, is_stackable, member_function
from tests.helpers.evaluators import MNIST1D_TINY

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

DEEP = {**MNIST1D_TINY, "steps": 100, "width": 100, "depth": 7}
SEEDS = (0, 1, 2, 3, 4)
N_VAL = DEEP["val_size"]


def _pooled_sd(a: list[float], b: list[float]) -> float:
    return math.sqrt((statistics.variance(a) + statistics.variance(b)) / 2)


@pytest.fixture(scope="module")
def deep_runs():
    """relu and swish, 5 seeds, batched and sequential (trained once for the module's tests)."""
    out = {}
    for cand in ("relu", "swish"):
        reports = {"batched": [], "sequential": []}
        for mode, flag in (("batched", True), ("sequential", False)):
            out[cand, mode] = evaluate(cand, "mnist1d", SEEDS, batched=flag,
                                       report=lambda it, s, r=reports[mode]: r.append((it, s)), **DEEP)
        out[cand, "reports"] = reports
    return out


def test_swish_batched_equals_sequential_per_seed(deep_runs):
    b, s = deep_runs["swish", "batched"], deep_runs["swish", "sequential"]
    assert b.status == s.status == OK
    for rb, rs in zip(b.runs, s.runs, strict=True):
        assert rb.seed == rs.seed and rb.metrics["pack"] == len(SEEDS) and "pack" not in rs.metrics
        assert abs(rb.score - rs.score) <= 1.5 / N_VAL  # at most one example flips
        assert rb.metrics["val_loss"] == pytest.approx(rs.metrics["val_loss"], rel=1e-4)
        assert rb.metrics["test_acc"] == pytest.approx(rs.metrics["test_acc"], abs=2.5 / 200)
        assert rb.metrics["dnr"] == pytest.approx(rs.metrics["dnr"], abs=1e-6)
        assert rb.metrics["checkpoints"] == pytest.approx(rs.metrics["checkpoints"], abs=1.5 / 200)
    assert b.metrics["pd"] == pytest.approx(s.metrics["pd"], abs=0.02)


def test_relu_batched_matches_sequential_in_distribution(deep_runs):
    b, s = deep_runs["relu", "batched"], deep_runs["relu", "sequential"]
    assert b.status == s.status == OK
    sb, ss = [r.score for r in b.runs], [r.score for r in s.runs]
    assert abs(statistics.fmean(sb) - statistics.fmean(ss)) < 0.5 * _pooled_sd(sb, ss)
    for rb, rs in zip(b.runs, s.runs, strict=True):  # the same run, up to a few flipped examples
        assert abs(rb.score - rs.score) <= 0.03
        assert rb.metrics["val_loss"] == pytest.approx(rs.metrics["val_loss"], rel=0.02)
        assert rb.metrics["dnr"] == pytest.approx(rs.metrics["dnr"], abs=0.02)


def test_reports_keep_the_sequential_numbering_and_order(deep_runs):
    reports = deep_runs["swish", "reports"]
    its_b = [it for it, _ in reports["batched"]]
    its_s = [it for it, _ in reports["sequential"]]
    assert its_b == its_s == list(range(1, 4 * len(SEEDS) + 1))
    scores_b = [s for _, s in reports["batched"]]
    assert scores_b == pytest.approx([s for _, s in reports["sequential"]], abs=1.5 / 200)
    run_ck = [c for r in deep_runs["swish", "batched"].runs for c in r.metrics["checkpoints"]]
    assert scores_b == run_ck


def test_batched_false_trains_seed_by_seed():
    task = get_task("mnist1d", batched="false", **{**DEEP, "steps": 20})
    assert task.config.batched is False and not task.batchable(as_candidate("swish"))
    res = evaluate("swish", task, (0, 1))
    assert res.status == OK and all("pack" not in r.metrics for r in res.runs)
    one = task.run_seed("swish", 1)[0]
    assert res.runs[1].score == one.score and res.runs[1].metrics["val_loss"] == one.metrics["val_loss"]
    assert get_task("mnist1d").config.batched is True


def test_a_single_member_trains_seed_by_seed():
    cfg = {**DEEP, "steps": 20}
    one = evaluate("swish", "mnist1d", (3,), **cfg)
    ref = evaluate("swish", "mnist1d", (3,), batched=False, **cfg)
    assert "pack" not in one.runs[0].metrics
    assert one.runs[0].metrics["val_loss"] == ref.runs[0].metrics["val_loss"]  # the very same loop


def test_pack_of_candidates_equals_their_separate_runs():
    cfg = {**DEEP, "steps": 40}
    cands = ["swish", "exp(exp(x))", "x * tanh(x)", "relu"]
    reports: dict[int, list] = {i: [] for i in range(len(cands))}
    pack = evaluate_pack(cands, "mnist1d", (0, 1, 2), threads=1,
                         reports=[lambda it, s, i=i: reports[i].append(it) for i in range(len(cands))], **cfg)
    assert [r.status for r in pack] == [OK, DIVERGED, OK, OK]
    exploded = pack[1]
    assert all(r.status == DIVERGED and r.step == 1 and "not finite" in r.error for r in exploded.runs)
    for i in (0, 2, 3):
        alone = evaluate(cands[i], "mnist1d", (0, 1, 2), **cfg)
        # 12 members train as a stack of CPU_PACK = 10 (up to relu's seed 0), then one of 2
        assert [r.metrics["pack"] for r in pack[i].runs] == ([10, 2, 2] if i == 3 else [10, 10, 10])
        for rp, ra in zip(pack[i].runs, alone.runs, strict=True):
            assert abs(rp.score - ra.score) <= 1.5 / N_VAL
            assert rp.metrics["val_loss"] == pytest.approx(ra.metrics["val_loss"], rel=1e-3)
        assert reports[i] == list(range(1, 13))
    assert reports[1] == []  # diverged at step 1, before its first checkpoint


def _net(task, cand, seeds):
    models = []
    for seed in seeds:
        torch.manual_seed(seed)
        models.append(task.build(cand, None)[0])
    return models, StackedMLP(models, [(member_function(cand.factory(), True), len(seeds))])


def test_stacked_forward_equals_each_member_network():
    task = get_task("mnist1d", **DEEP)
    cand = as_candidate("swish")
    models, net = _net(task, cand, (3, 4, 5))
    x = task.split().x_val[:50]
    with torch.no_grad():
        stacked = net(x)
        for k, model in enumerate(models):
            assert torch.allclose(stacked[k], model(x), atol=1e-5, rtol=1e-5)
    assert net.weights_ok(1e4).tolist() == [True] * 3
    assert all(is_stackable(m) for m in models)
    assert not is_stackable(nn.Sequential(nn.Linear(4, 4, bias=False), nn.ReLU(), nn.Linear(4, 2)))
    assert not is_stackable(nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2)))
    assert not is_stackable(get_task("mnist1d-resnet").build(cand, None)[0])


@pytest.mark.parametrize("how", ["loss", "weights"])
def test_a_diverging_member_does_not_disturb_the_others(how):
    """Member 1 of three fails — its loss at step 1, or its weights (a bias above max_weight,
    the loss still finite) at the first check, step 8 — and is dropped with the Adam state of the
    others carried over; members 0 and 2 end as a clean two-member pack of their seeds does."""
    task = get_task("mnist1d", **{**DEEP, "steps": 30, "max_weight": 5000.0})
    cfg = task.config
    cand = as_candidate("swish")
    _, poisoned = _net(task, cand, (0, 1, 2))
    with torch.no_grad():
        if how == "loss":
            poisoned.weights[2][1, 0, 0] = float("inf")
        else:
            poisoned.biases[-1][1, 0, 3] = 9000.0
    _, clean = _net(task, cand, (0, 2))
    split = task.split()
    got = train_pack(poisoned, split, cfg, (0, 1, 2))
    ref = train_pack(clean, split, cfg, (0, 2))
    failed = got[1][0]
    assert failed.status == DIVERGED and failed.step == (1 if how == "loss" else 8) and got[1][1] is None
    assert ("not finite" if how == "loss" else "exploded") in failed.error
    assert failed.metrics["checkpoints"] == []  # checked before step 8's checkpoint, as train_classifier does
    for (rg, pg), (rr, pr) in zip((got[0], got[2]), ref, strict=True):
        assert rg.status == rr.status == OK and rg.seed == rr.seed
        assert rg.score == pytest.approx(rr.score, abs=1.5 / N_VAL)
        assert rg.metrics["val_loss"] == pytest.approx(rr.metrics["val_loss"], rel=1e-4)
        assert rg.metrics["checkpoints"] == pytest.approx(rr.metrics["checkpoints"], abs=1.5 / 200)
        assert (pg != pr).float().mean().item() < 0.02  # the same test predictions


def test_time_limit_times_out_every_member_and_invalid_and_custom_candidates():
    cfg = {**DEEP, "steps": 20}
    res = evaluate("swish", "mnist1d", (0, 1), time_limit_s=1e-9, **cfg)
    assert [r.status for r in res.runs] == [TIMEOUT, TIMEOUT] and res.runs[0].step == 0
    assert "per member" in res.runs[0].error
    pack = evaluate_pack(["x - x", nn.ReLU, "relu"], "mnist1d", (0, 1), **cfg)
    assert pack[0].status == INVALID
    assert pack[1].status == OK and all("pack" not in r.metrics for r in pack[1].runs)  # a user module
    assert pack[2].status == OK and all(r.metrics["pack"] == 2 for r in pack[2].runs)
    # the user's module and the library's relu are the same function: the same runs, seed by seed
    assert [r.score for r in pack[1].runs] == pytest.approx([r.score for r in pack[2].runs], abs=0.03)


def test_head_activation_and_he_gain_batch_like_sequential():
    cfg = {**DEEP, "steps": 30, "head": "activation", "init": "he-gain"}
    b = evaluate("x * sigmoid(x)", "mnist1d", (0, 1), **cfg)
    s = evaluate("x * sigmoid(x)", "mnist1d", (0, 1), batched=False, **cfg)
    assert b.status == s.status == OK
    for rb, rs in zip(b.runs, s.runs, strict=True):
        assert rb.metrics["pack"] == 2
        assert rb.score == pytest.approx(rs.score, abs=1.5 / N_VAL)
        assert rb.metrics["val_loss"] == pytest.approx(rs.metrics["val_loss"], rel=1e-4)


def test_an_exception_from_report_stops_the_pack():
    class Stop(Exception):
        pass

    def report(iteration, score):
        raise Stop

    with pytest.raises(Stop):
        evaluate("swish", "mnist1d", (0, 1), report=report, **{**DEEP, "steps": 8})


def test_a_member_trains_the_same_whatever_else_shares_its_pack():
    """Bit for bit: a candidate's seeds alone, first in a pack, or last in it (the flat buffer is
    padded, so no member's values fall in the fused Adam kernel's scalar tail)."""
    cfg = {**DEEP, "steps": 40}
    alone = evaluate("relu", "mnist1d", (0, 1, 2), **cfg)
    first = evaluate_pack(["relu", "swish"], "mnist1d", (0, 1, 2), **cfg)[0]
    last = evaluate_pack(["swish", "relu"], "mnist1d", (0, 1, 2), **cfg)[1]
    for a, f, la in zip(alone.runs, first.runs, last.runs, strict=True):
        assert a.metrics["pack"] == 3 and f.metrics["pack"] == la.metrics["pack"] == 6
        assert a.metrics["val_loss"] == f.metrics["val_loss"] == la.metrics["val_loss"]
        assert a.metrics["checkpoints"] == f.metrics["checkpoints"] == la.metrics["checkpoints"]
