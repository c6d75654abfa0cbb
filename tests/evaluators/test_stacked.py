"""The torch.func stacked trainer (``StackedNet``) on the transfer networks against the sequential
one (its oracle): per seed the same run up to float reassociation, a diverging member or candidate
leaves the others as they would be without it, and batch-norm networks train seed by seed.

Measured (tiny configs below, 50 steps, 3 seeds): for relu and swish with a learnable β the
batched per-seed accuracies equal the sequential ones and the losses agree to ~1e-7.
"""

from __future__ import annotations

import pytest
import torch

from actsearch.evaluators import evaluate, get_task
from actsearch.evaluators.candidate import as_candidate
from actsearch.evaluators.result import DIVERGED, OK, TIMEOUT
from actsearch.evaluators.scoring import evaluate_pack
from actsearch.evaluators.training.packs import train_pack
from actsearch.evaluators.training.stacked import StackedNet, is_vmappable
from tests.helpers.evaluators import TINY

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

NETS = ("mnist1d-cnn", "mnist1d-resnet-ln", "mnist1d-vit")
SEEDS = (0, 1, 2)
LEARNABLE = "x * sigmoid(beta * x)"


def _cfg(task: str, **kw) -> dict:
    return {**TINY[task], "steps": 50, "lr": 1e-2, **kw}


@pytest.mark.parametrize("cand", ["relu", LEARNABLE])
@pytest.mark.parametrize("task", NETS)
def test_batched_equals_sequential_per_seed(task, cand):
    cfg = _cfg(task)
    n_val, n_test = cfg["val_size"], cfg["num_samples"] - cfg["train_size"] - cfg["val_size"]
    reports: dict[str, list] = {"b": [], "s": []}
    b = evaluate(cand, task, SEEDS, batched=True, report=lambda it, s: reports["b"].append((it, s)), **cfg)
    s = evaluate(cand, task, SEEDS, batched=False, report=lambda it, s: reports["s"].append((it, s)), **cfg)
    assert b.status == s.status == OK
    assert s.score > 0.2  # it learns something in 50 steps (chance is 0.1)
    for rb, rs in zip(b.runs, s.runs, strict=True):
        assert rb.seed == rs.seed and rb.metrics["pack"] == len(SEEDS) and "pack" not in rs.metrics
        assert abs(rb.score - rs.score) <= 1.5 / n_val  # at most one example flips
        assert rb.metrics["val_loss"] == pytest.approx(rs.metrics["val_loss"], rel=1e-4)
        assert rb.metrics["train_loss"] == pytest.approx(rs.metrics["train_loss"], rel=1e-4)
        assert rb.metrics["test_acc"] == pytest.approx(rs.metrics["test_acc"], abs=1.5 / n_test)
        assert rb.metrics["dnr"] == pytest.approx(rs.metrics["dnr"], abs=1e-6)
        assert rb.metrics["checkpoints"] == pytest.approx(rs.metrics["checkpoints"], abs=1.5 / 200)
    assert [it for it, _ in reports["b"]] == [it for it, _ in reports["s"]] == list(range(1, 4 * len(SEEDS) + 1))
    assert b.metrics["pd"] == pytest.approx(s.metrics["pd"], abs=0.01)


def _net(task, cand, seeds) -> StackedNet:
    models, acts = [], []
    for seed in seeds:
        torch.manual_seed(seed)
        model, act = task.build(cand, None)
        models.append(model)
        acts.append(act)
    return StackedNet(models, acts, [len(seeds)], 2)


@pytest.mark.parametrize("how", ["loss", "weights"])
@pytest.mark.parametrize("name", NETS)
def test_a_diverging_member_does_not_disturb_the_others(name, how, one_thread):
    """Member 1 of three fails — its loss at step 1 (an infinite head weight), or its weights (a
    head bias above max_weight, the loss still finite) at the first check, step 8 — and is dropped
    with the others' Adam state carried over; members 0 and 2 end as a clean pack of their seeds."""
    task = get_task(name, **_cfg(name, steps=30, max_weight=5000.0))
    cand = as_candidate(LEARNABLE)
    poisoned = _net(task, cand, SEEDS)
    with torch.no_grad():
        params = poisoned.stacks[0].params
        if how == "loss":
            params["fc.weight"][1, 0, 0] = float("inf")
        else:
            params["fc.bias"][1, 3] = 9000.0
    split = task.split()
    got = train_pack(poisoned, split, task.config, SEEDS)
    ref = train_pack(_net(task, cand, (0, 2)), split, task.config, (0, 2))
    failed = got[1][0]
    assert failed.status == DIVERGED and failed.step == (1 if how == "loss" else 8) and got[1][1] is None
    assert ("not finite" if how == "loss" else "exploded") in failed.error
    assert poisoned.members == 2 and poisoned.stacks[0].params["fc.bias"].shape[0] == 2
    for (rg, pg), (rr, pr) in zip((got[0], got[2]), ref, strict=True):
        assert rg.status == rr.status == OK and rg.seed == rr.seed
        assert rg.score == pytest.approx(rr.score, abs=1.5 / task.config.val_size)
        assert rg.metrics["val_loss"] == pytest.approx(rr.metrics["val_loss"], rel=1e-4)
        assert rg.metrics["dnr"] == pytest.approx(rr.metrics["dnr"], abs=1e-6)
        assert (pg != pr).float().mean().item() < 0.01  # the same test predictions


def test_a_pack_of_candidates_is_one_stack_each_and_a_blow_up_leaves_the_rest():
    name = "mnist1d-cnn"
    cfg = _cfg(name)
    cands = ["swish", "exp(exp(x))", "relu"]
    pack = evaluate_pack(cands, name, (0, 1), batched=True, **cfg)
    assert [r.status for r in pack] == [OK, DIVERGED, OK]
    assert all(r.status == DIVERGED and r.step == 1 and "not finite" in r.error for r in pack[1].runs)
    for i in (0, 2):
        alone = evaluate(cands[i], name, (0, 1), batched=False, **cfg)
        for rp, ra in zip(pack[i].runs, alone.runs, strict=True):
            assert rp.metrics["pack"] == 6
            assert abs(rp.score - ra.score) <= 1.5 / cfg["val_size"]
            assert rp.metrics["val_loss"] == pytest.approx(ra.metrics["val_loss"], rel=1e-4)


def test_batch_norm_and_lone_seeds_train_seed_by_seed():
    cand = as_candidate("swish")
    for name, extra in (("mnist1d-resnet", {}), ("mnist1d-resnet-ln", {"norm": "batch"})):
        task = get_task(name, batched=True, **{**TINY[name], **extra})
        assert not is_vmappable(task.build(cand, None)[0])
        assert task.batchable(cand) and task.run_pack([cand], (0, 1)) is None
        res = evaluate(cand, task, (0, 1))
        assert res.status == OK and all("pack" not in r.metrics for r in res.runs)
    cnn = get_task("mnist1d-cnn", batched=True, **_cfg("mnist1d-cnn"))
    assert is_vmappable(cnn.build(cand, None)[0])
    assert cnn.run_pack([cand], (0,)) is None  # one seed alone
    assert cnn.run_pack([cand, as_candidate("relu")], (0,)) is None  # two stacks of one
    timed_out = evaluate(cand, cnn, (0, 1), time_limit_s=1e-9)
    assert [r.status for r in timed_out.runs] == [TIMEOUT, TIMEOUT] and timed_out.runs[0].metrics["pack"] == 2
