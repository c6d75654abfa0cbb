"""The values learnable constants reach, stored per seed at the end of training and shown.

Real tiny trainings (tens of steps, a learning rate large enough to move β): the sequential loop,
both stacked trainers (the MLP's hand-differentiated stack, the ``torch.func`` stack), a pack of
two candidates with different constants, a ``ModelTask``, a full-control task, a toy task; then
``show`` and the report on a real store holding those results.
"""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

import actsearch
from actsearch.cli import app
from actsearch.evaluators import evaluate, get_task
from actsearch.evaluators.candidate import as_candidate
from actsearch.evaluators.learned import pooled
from actsearch.evaluators.result import LEARNED, LEARNED_SD, OK
from actsearch.evaluators.scoring import evaluate_pack
from actsearch.evaluators.training.loop import train_classifier
from actsearch.grammar.compile import ActivationModule
from actsearch.results.learned import learned_constants
from actsearch.results.store import SqliteStore
from tests.helpers import usertasks as helpers
from tests.helpers.evaluators import MNIST1D_TINY, TINY

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

LEARNABLE = "x * sigmoid(beta * x)"
BETA, BETA_SD = LEARNED + "beta", LEARNED + "beta" + LEARNED_SD
MLP = {**MNIST1D_TINY, "steps": 40, "lr": 3e-2}
CNN = {**TINY["mnist1d-cnn"], "steps": 15, "lr": 3e-2}


def _learned(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if k.startswith(LEARNED)}


def test_sequential_stores_the_values_read_from_the_trained_modules():
    task = get_task("mnist1d", **MLP)
    cand = as_candidate(LEARNABLE)
    torch.manual_seed(0)
    model, acts = task.build(cand, None)
    res, _ = train_classifier(model, acts, task.split(), task.config, 0)
    assert res.status == OK, res.error
    betas = torch.stack([m.beta.detach() for m in model.modules() if isinstance(m, ActivationModule)]).double()
    assert len(betas) == len(acts) == MLP["depth"]
    assert res.metrics[BETA] == pytest.approx(float(betas.mean()), rel=1e-12)
    assert res.metrics[BETA_SD] == pytest.approx(float(betas.std(correction=0)), rel=1e-9)
    assert abs(res.metrics[BETA] - 1.0) > 1e-3 and res.metrics[BETA_SD] > 0  # training moved each layer's β


@pytest.mark.parametrize("name,cfg", [("mnist1d", MLP), ("mnist1d-cnn", CNN)])
def test_stacked_members_store_their_own_values(name, cfg):
    """Each member of the stack (StackedMLP, StackedNet) stores what its sequential run stores."""
    b = evaluate(LEARNABLE, name, (0, 1), batched=True, **cfg)
    s = evaluate(LEARNABLE, name, (0, 1), batched=False, **cfg)
    assert b.status == s.status == OK
    for rb, rs in zip(b.runs, s.runs, strict=True):
        assert rb.metrics["pack"] == 2 and "pack" not in rs.metrics
        assert rb.metrics[BETA] == pytest.approx(rs.metrics[BETA], rel=1e-5)
        assert rb.metrics[BETA_SD] == pytest.approx(rs.metrics[BETA_SD], rel=1e-3, abs=1e-6)
        assert abs(rb.metrics[BETA] - 1.0) > 1e-3
    assert b.runs[0].metrics[BETA] != b.runs[1].metrics[BETA]  # each seed its own slice


@pytest.mark.parametrize("name,cfg,seeds", [("mnist1d", MLP, (0,)), ("mnist1d-cnn", CNN, (0, 1))])
def test_a_pack_of_two_candidates_keeps_each_ones_constants(name, cfg, seeds):
    cands = [actsearch.parse(LEARNABLE, beta=0.5), actsearch.parse("alpha * x + tanh(x)", alpha=2.0)]
    packed = evaluate_pack(cands, name, seeds, batched=True, **cfg)
    alone = [evaluate(c, name, seeds, batched=False, **cfg) for c in cands]
    for p, a, names in zip(packed, alone, (["beta"], ["alpha"]), strict=True):
        assert p.status == a.status == OK
        for rp, ra in zip(p.runs, a.runs, strict=True):
            assert rp.metrics["pack"] == len(cands) * len(seeds)
            assert sorted(_learned(rp.metrics)) == sorted(LEARNED + n + x for n in names for x in ("", LEARNED_SD))
            for key in _learned(rp.metrics):
                assert rp.metrics[key] == pytest.approx(ra.metrics[key], rel=1e-4, abs=1e-6)
    assert abs(packed[0].runs[0].metrics[BETA] - 0.5) < 0.4 and abs(packed[1].runs[0].metrics[LEARNED + "alpha"] - 2) < 1


def test_a_candidate_without_constants_stores_none():
    for batched in (False, True):
        res = evaluate("x * sigmoid(x)", "mnist1d", (0, 1), batched=batched, **{**MLP, "steps": 5})
        assert res.status == OK and all(not _learned(r.metrics) for r in res.runs)
    assert not _learned(helpers.model_task(steps=5).evaluate_seed("relu", 0).metrics)


def test_a_model_task_stores_the_constants_inside_the_users_network():
    res = helpers.model_task(lr=5e-2).evaluate_seed(LEARNABLE, 0)
    assert res.status == OK and math.isfinite(res.metrics[BETA]) and abs(res.metrics[BETA] - 1.0) > 1e-3
    assert res.metrics[BETA_SD] > 0  # two layers, each its own β
    x, y = helpers.blobs()
    copied = actsearch.ModelTask(  # a builder that copies the module act() made: found by type
        model=lambda act: nn.Sequential(nn.Linear(6, 16), copy.deepcopy(act()), nn.Linear(16, 3)),
        train=(x[:160], y[:160]), val=(x[160:], y[160:]), steps=20, lr=5e-2)
    got = copied.evaluate_seed(LEARNABLE, 0)
    assert got.status == OK and abs(got.metrics[BETA] - 1.0) > 1e-3 and got.metrics[BETA_SD] == 0.0


def test_full_control_and_toy_tasks_store_the_modules_act_made():
    res = helpers.loop_task.evaluate_seed(LEARNABLE, 0)
    assert res.status == OK and abs(res.metrics[BETA] - 1.0) > 1e-3 and "test_acc" in res.metrics
    teacher = get_task("teacher", **{**TINY["teacher"], "lr": 5e-2}).evaluate_seed(LEARNABLE, 0)
    assert teacher.status == OK and math.isfinite(teacher.metrics[BETA]) and teacher.metrics[BETA_SD] == 0.0


def test_a_panel_stores_its_members_pooled(tmp_path):
    """A real panel (its ReLU reference from a calibration file, so only the candidate trains)."""
    cfg = json.loads(json.dumps(vars(get_task("digits", steps=15).config)))
    cal = tmp_path / "calibration.json"
    cal.write_text(json.dumps({"tasks": {"digits": {"settings": cfg, "candidates": {"relu": {"mean": 0.5, "sd": 0.1}}}}}))
    res = get_task("panel:digits", reference=str(cal), steps=15, lr=5e-2).evaluate_seed(LEARNABLE, 0)
    alone = get_task("digits", steps=15, lr=5e-2).evaluate_seed(LEARNABLE, 0)
    assert res.status == alone.status == OK
    assert _learned(res.metrics) == pytest.approx(_learned(alone.metrics)) and BETA in res.metrics


def test_pooling_weighs_each_member_alike():
    parts = [{BETA: 1.0, BETA_SD: 0.0}, {BETA: 3.0, BETA_SD: 1.0}, {"panel.score/x": 0.5}]
    got = pooled(parts)
    assert got[BETA] == 2.0 and got[BETA_SD] == pytest.approx(math.sqrt((0 + 1 + 1 + 1) / 2))
    assert pooled([{}, {}]) == {}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A real store holding a learnable candidate's and ReLU's real results."""
    run = tmp_path_factory.mktemp("learned") / "run"
    learnable, relu = (evaluate(c, "mnist1d", (0, 1), **MLP) for c in (LEARNABLE, "relu(x)"))
    with SqliteStore(run) as store:
        store.init_run({"command": "actsearch search --task mnist1d", "task": "mnist1d", "searcher": "random"})
        for step, (text, res) in enumerate(((LEARNABLE, learnable), ("relu(x)", relu))):
            act = actsearch.parse(text)
            store.record(text, act.fingerprint, res, task="mnist1d", role="search", trial=step + 1,
                         canonical=act.canonical, params=act.params, searcher="random", step=step, seeds=[0, 1])
    return run, learnable


def test_show_and_the_report_give_the_learned_line(run_dir, tmp_path):
    run, res = run_dir
    folded = learned_constants(res.runs)["beta"]
    seeds = [r.metrics[BETA] for r in res.runs]
    assert folded.seeds == 2 and folded.mean == pytest.approx(sum(seeds) / 2)
    assert (folded.low, folded.high) == (min(seeds), max(seeds))
    line = folded.text(1.0)
    assert line.startswith(f"learned beta: {folded.mean:.4g} ± ") and "averaged over 2 seeds" in line
    assert "spread over seeds: sd" in line and line.endswith("; initial 1")
    out = CliRunner().invoke(app, ["show", str(run), "id:1"])  # the learnable candidate's row
    assert out.exit_code == 0, out.output
    assert line in " ".join(out.stdout.split())
    other = CliRunner().invoke(app, ["show", str(run), "id:2"])
    assert other.exit_code == 0 and "learned" not in other.stdout  # relu has no constants
    as_json = CliRunner().invoke(app, ["show", str(run), "id:1", "--json"])
    assert '"learned"' in as_json.stdout
    page = tmp_path / "report.html"
    assert CliRunner().invoke(app, ["report", str(run), "--out", str(page)]).exit_code == 0
    html = page.read_text()
    assert 'id="learned"' in html and f"learned beta: {folded.mean:.4g} ± " in html
    board = CliRunner().invoke(app, ["leaderboard", str(run), "--format", "csv"])
    assert "learned" not in board.stdout  # the table keeps its columns
