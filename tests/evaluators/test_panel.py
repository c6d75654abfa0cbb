"""The panel task: per-member ReLU-normalised scores and their aggregate, checked by hand on
table replays; real members trained end to end; the reference file and the cache."""

from __future__ import annotations

import csv
import json

import pytest

from actsearch.errors import UserError
from actsearch.evaluators import evaluate, get_task
from actsearch.evaluators.candidate import as_candidate
from actsearch.evaluators.panel import PanelTask
from actsearch.evaluators.result import PANEL_SCORE, PANEL_Z

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier


def _table(path, rows) -> str:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["expression", "status", "score", "score_std"])
        writer.writerows(rows)
    return f"table:{path}"


@pytest.fixture
def tables(tmp_path):
    a = _table(tmp_path / "a.csv", [("relu(x)", "ok", 0.80, 0.02), ("x * sigmoid(x)", "ok", 0.85, ""),
                                    ("tanh(x)", "ok", 0.74, ""), ("x + x", "ok", 0.70, "")])
    b = _table(tmp_path / "b.csv", [("max(x, 0)", "ok", 0.90, ""), ("sigmoid(x) * x", "ok", 0.88, ""),
                                    ("tanh(x)", "ok", 0.93, ""), ("x + x", "diverged", 0.0, "")])
    return a, b


def test_aggregate_matches_hand_computed_values(tables):
    a, b = tables
    # a: relu 0.80 ± 0.02 (its score_std); b: relu 0.90 with no spread → min_sd = 0.01
    panel = get_task(f"panel:{a},{b}", min_sd=0.01)
    assert isinstance(panel, PanelTask) and panel.config.checkpoints == 2
    swish = evaluate("x*sigmoid(x)", panel, seeds=(0, 1))
    z_a, z_b = (0.85 - 0.80) / 0.02, (0.88 - 0.90) / 0.01  # +2.5, -2.0
    assert swish.status == "ok" and swish.score == pytest.approx((z_a + z_b) / 2)  # 0.25
    assert swish.metrics[PANEL_SCORE + a] == pytest.approx(0.85)
    assert swish.metrics[PANEL_Z + b] == pytest.approx(z_b)
    tanh = evaluate("tanh(x)", panel, seeds=(0,))
    assert tanh.score == pytest.approx(((0.74 - 0.80) / 0.02 + (0.93 - 0.90) / 0.01) / 2)  # (-3 + 3) / 2 = 0
    worst = evaluate("x*sigmoid(x)", get_task(f"panel:{a},{b}", min_sd=0.01, aggregate="min"), seeds=(0,))
    assert worst.score == pytest.approx(min(z_a, z_b))
    relu = evaluate("relu", panel, seeds=(0,))  # a library name is looked up by its expression
    assert relu.score == pytest.approx(0.0, abs=1e-12)
    floor = evaluate("x*sigmoid(x)", get_task(f"panel:{a},{b}"), seeds=(0,))  # default min_sd 0.005
    assert floor.score == pytest.approx((z_a + (0.88 - 0.90) / 0.005) / 2)


def test_a_failing_member_fails_the_candidate_and_reports_follow_the_panel_order(tables):
    a, b = tables
    res = evaluate("x + x", get_task(f"panel:{a},{b}", min_sd=0.01), seeds=(0,))
    assert res.status == "diverged" and b in res.error
    assert res.runs[0].metrics[PANEL_SCORE + a] == pytest.approx(0.70)
    seen = []
    evaluate("tanh(x)", get_task(f"panel:{a},{b}", min_sd=0.01), seeds=(0, 1),
             report=lambda it, score: seen.append((it, round(score, 6))))
    assert seen == [(1, -3.0), (2, 3.0), (3, -3.0), (4, 3.0)]  # member checkpoints, normalised


@pytest.mark.parametrize("name,overrides,message", [
    ("panel:", {}, "names no task"),
    ("panel:digits,digits", {}, "twice"),
    ("panel:digits,panel:xor", {}, "cannot be a member"),
    ("panel:digits,imagenet", {}, "unknown task"),
    ("panel:digits", {"aggregate": "median"}, "aggregate must be"),
    ("panel:digits", {"bogus": 1}, "no setting 'bogus'"),
    ("panel:digits", {"digits.bogus": 1}, "no setting 'bogus'"),
    ("panel:digits", {"reference_seeds": 0}, "reference_seeds must be >= 1"),
    ("panel:digits", {"min_sd": 0}, "min_sd must be > 0"),
])
def test_bad_panels_are_user_errors(name, overrides, message):
    with pytest.raises(UserError, match=message):
        get_task(name, **overrides)


def test_member_settings_and_named_panel():
    panel = get_task("panel:digits,xor", steps=7, **{"xor.trials": 2})
    assert panel.members[0].config.steps == 7 and panel.members[1].config.trials == 2
    assert get_task("panel:transfer").names == ("mnist1d", "mnist1d-cnn", "mnist1d-resnet-ln", "mnist1d-vit")


def test_real_members_train_and_the_reference_is_cached(tmp_path):
    spec = "panel:digits,mnist1d-cnn"
    settings = {"steps": 15, "reference_seeds": 2}
    panel = get_task(spec, **settings)
    res = evaluate("x * sigmoid(beta * x)", panel, seeds=(0,))
    assert res.status == "ok"
    refs = panel.references()
    assert [r.source for r in refs.values()] == ["measured", "measured"] and all(r.seeds == 2 for r in refs.values())
    for name in ("digits", "mnist1d-cnn"):
        z = (res.metrics[PANEL_SCORE + name] - refs[name].mean) / max(refs[name].sd, 0.005)
        assert res.metrics[PANEL_Z + name] == pytest.approx(z)
    assert res.score == pytest.approx((res.metrics[PANEL_Z + "digits"] + res.metrics[PANEL_Z + "mnist1d-cnn"]) / 2)
    again = get_task(spec, **settings)
    assert {r.source for r in again.references().values()} == {"cache"}
    assert again.references() == {k: type(v)(v.task, v.mean, v.sd, v.seeds, "cache") for k, v in refs.items()}
    # a calibration file whose settings match is used; another budget is measured instead
    cal = tmp_path / "calibration.json"
    cfg = json.loads(json.dumps(vars(get_task("digits", steps=15).config)))
    cal.write_text(json.dumps({"tasks": {"digits": {"settings": cfg, "candidates": {"relu": {
        "mean": 0.5, "sd": 0.1, "scores": [0.4, 0.5, 0.6]}}}}}))
    filed = get_task(spec, reference=str(cal), **settings).references()
    assert (filed["digits"].mean, filed["digits"].sd, filed["digits"].source) == (0.5, 0.1, str(cal))
    other = get_task(spec, reference=str(cal), steps=16, reference_seeds=1).references()
    assert other["digits"].source == "measured"


def test_features_probe_the_first_member_with_a_network(tables):
    import torch

    from actsearch.search.screening.features import probe_for

    a, _ = tables
    probe = probe_for(get_task(f"panel:{a},mnist1d-cnn,digits"))
    net = probe.build(torch.nn.ReLU)
    assert any(isinstance(m, torch.nn.Conv1d) for m in net.modules())  # mnist1d-cnn, the first network
    assert probe.inputs.shape[1] == 40 and net(probe.inputs).shape == (len(probe.inputs), 10)
    tables_only = probe_for(get_task(f"panel:{a}"))
    assert tables_only.name == probe_for(get_task(a)).name  # no network: the task-free probe


def test_cli_evaluate_and_baselines_show_the_members(tables):
    from typer.testing import CliRunner

    from actsearch.cli import app

    a, b = tables
    out = CliRunner().invoke(app, ["baselines", "--task", f"panel:{a},{b}", "--set", "min_sd=0.01", "--only",
                                   "swish", "--only", "tanh(x)", "--seeds", "1", "--json"])
    assert out.exit_code == 0, out.output
    rows = {r["name"]: r for r in json.loads(out.output)["baselines"]}
    assert rows["tanh(x)"]["panel"] == {a: pytest.approx(0.74), b: pytest.approx(0.93)}
    assert rows["tanh(x)"]["panel_z"] == {a: pytest.approx(-3.0), b: pytest.approx(3.0)}
    assert rows["swish"]["status"] == "invalid"  # x*sigmoid(beta*x) is not in the tables
    text = CliRunner().invoke(app, ["evaluate", "tanh(x)", "--task", f"panel:{a},{b}", "--set", "min_sd=0.01"])
    assert text.exit_code == 0 and "(z -3.00 vs relu)" in text.output and "(z +3.00 vs relu)" in text.output
    bad = CliRunner().invoke(app, ["evaluate", "x", "--task", f"panel:{a},{b}", "--set", "aggregate=median"])
    assert isinstance(bad.exception, UserError) and "aggregate must be" in str(bad.exception)  # main(): one line


def test_a_member_that_batches_trains_the_seeds_at_once_with_the_same_results():
    """mnist1d (an MLP, batched) then mnist1d-cnn: the seeds train on mnist1d as one stacked
    network (its run_pack), with the per-seed results and reports of the seed-by-seed panel; a
    candidate whose seeds all diverge on mnist1d is not trained on the CNN."""
    from actsearch.evaluators.scoring import evaluate_pack
    from tests.helpers.evaluators import TINY

    tiny = {f"{n}.{k}": v for n in ("mnist1d", "mnist1d-cnn") for k, v in {**TINY[n], "steps": 30}.items()}
    settings = {**tiny, "reference_seeds": 2}
    packed = get_task("panel:mnist1d,mnist1d-cnn", **settings)
    alone = get_task("panel:mnist1d,mnist1d-cnn", **settings, **{"mnist1d.batched": False})
    calls = []
    member = packed.members[0]
    original = member.run_pack
    # a spy on the real call; ReLU's reference (2 seeds, stacked too) may be measured first or cached
    member.run_pack = lambda *a, **k: (a[0][0].label != "relu" and calls.append(a[1])) or original(*a, **k)
    seen: dict[str, list] = {"packed": [], "alone": []}
    got = evaluate("swish", packed, seeds=(0, 1, 2), report=lambda it, s: seen["packed"].append((it, s)))
    ref = evaluate("swish", alone, seeds=(0, 1, 2), report=lambda it, s: seen["alone"].append((it, s)))
    assert calls == [[0, 1, 2]] and packed.batchable(as_candidate("swish"))
    assert got.status == ref.status == "ok"
    for rg, rr in zip(got.runs, ref.runs, strict=True):
        assert rg.seed == rr.seed
        for name in ("mnist1d", "mnist1d-cnn"):
            assert rg.metrics[PANEL_SCORE + name] == pytest.approx(rr.metrics[PANEL_SCORE + name], abs=1.5 / 400)
    assert [it for it, _ in seen["packed"]] == [it for it, _ in seen["alone"]] == list(range(1, 3 * 8 + 1))
    blown = evaluate_pack(["exp(exp(x))"], packed, (0, 1))[0]
    assert blown.status == "diverged" and all(r.error.startswith("mnist1d: ") for r in blown.runs)
    assert all(PANEL_SCORE + "mnist1d-cnn" not in r.metrics for r in blown.runs)  # never trained on the CNN
    assert calls[-1] == [0, 1]


def test_a_members_own_setting_passes_the_command_line_as_the_guide_writes_it():
    from actsearch.errors import UserError
    from actsearch.evaluators.settings import parse_assignments

    got = parse_assignments(["mnist1d-vit.steps=400", "xor.trials=2", "steps=7"], "--set")
    assert got == {"mnist1d-vit.steps": 400, "xor.trials": 2, "steps": 7}
    panel = get_task("panel:digits,xor", **parse_assignments(["xor.trials=2", "digits.steps=7"], "--set"))
    assert panel.members[0].config.steps == 7 and panel.members[1].config.trials == 2
    for bad in ("-x.steps=1", ".steps=1", "vit.=1", "a b.steps=1", "vit.steps-2=1"):
        with pytest.raises(UserError, match="--set expects NAME=VALUE"):
            parse_assignments([bad], "--set")
    with pytest.raises(UserError, match="--param expects NAME=NUMBER"):  # constants are plain names
        parse_assignments(["vit.beta=1"], "--param", numbers=True)


def test_a_seed_stopped_at_a_rung_scores_the_z_it_reported_there_not_zero():
    """Under halving a panel's z can be negative: a stopped seed stored at 0 would rank above the
    finished candidates below ReLU. It keeps the z of its rung, and the member's score there."""
    from actsearch.evaluators.result import MemberStop, Status

    panel = get_task("panel:digits,xor", **{"digits.steps": 40})
    seen = []

    def report(k, z):
        seen.append((k, z))
        raise MemberStop(1, z, z + 1.0)  # cut at the first checkpoint of the first member

    res, _ = panel.run_seed("x + x", 0, report=report)  # linear: below ReLU, a negative z
    (k, z), ref = seen[0], panel.references()["digits"]
    assert res.status == Status.STOPPED and k == 1 and res.score == pytest.approx(z) and res.score != 0.0
    assert res.metrics[PANEL_Z + "digits"] == pytest.approx(z) and PANEL_SCORE + "xor" not in res.metrics
    assert res.metrics[PANEL_SCORE + "digits"] == pytest.approx(ref.mean + z * max(ref.sd, panel.config.min_sd))
    assert res.error.startswith("digits: stopped at rung 1")
