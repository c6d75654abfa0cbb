"""discover.json: the held-out table of a discover run, checked against hand-computed values on
rows stored in a real SQLite run store (the rows a discover run writes: search panel rows and
held-out validation rows whose seed runs carry the panel's per-member scores and references)."""

from __future__ import annotations

import json
import math

import pytest

import actsearch
from actsearch.evaluators.panel import REF_MEAN, REF_SD
from actsearch.evaluators.result import PANEL_SCORE, CandidateResult, EvalResult
from actsearch.results.records import Role
from actsearch.results.store import SqliteStore
from actsearch.results.transfer import discover_table, write_table

SEARCH_TASK, HELD = "panel:mnist1d-cnn,mnist1d-resnet-ln", "panel:mnist1d-vit,mnist1d"
HELD_SETTINGS = {"reference_seeds": 2}
REFS = {"mnist1d-vit": (0.80, 0.02), "mnist1d": (0.70, 0.01)}  # ReLU's (mean, sd) as the panel used them


def _held_out(scores: dict[str, list[float]], status: str = "ok") -> CandidateResult:
    runs = []
    for seed in range(2):
        metrics = {}
        for name, (mean, sd) in REFS.items():
            metrics.update({PANEL_SCORE + name: scores[name][seed], REF_MEAN + name: mean, REF_SD + name: sd})
        runs.append(EvalResult(status, 0.0 if status != "ok" else 1.0, seed, 0.1, metrics,
                               None if status == "ok" else "mnist1d-vit: step 3"))
    return CandidateResult.from_runs(runs)


def _search(score: float) -> CandidateResult:
    return CandidateResult.from_runs([EvalResult("ok", score, s, 0.1, {}) for s in range(3)])


@pytest.fixture
def store(tmp_path):
    with SqliteStore(tmp_path) as store:
        rows = {"cand": ("min(x, atan(x))", None, {"mnist1d-vit": [0.80, 0.84], "mnist1d": [0.70, 0.74]}, 1.5),
                "relu": ("relu(x)", "relu", {"mnist1d-vit": [0.78, 0.82], "mnist1d": [0.69, 0.71]}, 0.0),
                "swish": ("x * sigmoid(beta * x)", "swish", {"mnist1d-vit": [0.81, 0.81], "mnist1d": [0.80, 0.80]},
                          2.0)}
        for text, ref, scores, search_score in rows.values():
            act = actsearch.parse(text)
            params = {"beta": 1.0} if "beta" in text else {}
            store.record(text, act.fingerprint, _search(search_score), task=SEARCH_TASK, trial=None if ref else 1,
                         role=Role.REFERENCE if ref else Role.SEARCH, reference=ref, params=params, seeds=[0, 1, 2])
            store.record(text, act.fingerprint, _held_out(scores), task=HELD, settings=HELD_SETTINGS,
                         role=Role.VALIDATION, reference=ref, params=params, seeds=[0, 1])
        bad = actsearch.parse("x + x^3")
        store.record("x + x^3", bad.fingerprint, _search(3.0), task=SEARCH_TASK, trial=2, seeds=[0, 1, 2])
        store.record("x + x^3", bad.fingerprint, _held_out({n: [0.0, 0.0] for n in REFS}, status="diverged"),
                     task=HELD, settings=HELD_SETTINGS, role=Role.VALIDATION, seeds=[0, 1])
        yield store


def test_table_ranks_by_the_worst_held_out_z_with_hand_computed_values(store, tmp_path):
    table = discover_table(store, search=(SEARCH_TASK, {}), held_out=(HELD, HELD_SETTINGS), wall_s={"search": 1.0})
    order = [c["reference"] or c["expression"] for c in table["candidates"]]
    # cand: z = (0.82 − 0.80)/0.02 = 1.0 on vit, (0.72 − 0.70)/0.01 = 2.0 on mnist1d → min 1.0
    # swish: (0.81 − 0.80)/0.02 = 0.5, (0.80 − 0.70)/0.01 = 10 → min 0.5; relu: 0, 0; the diverged one last
    assert order == ["min(x, atan(x))", "swish", "relu", "x + x^3"]
    cand, swish, relu, bad = table["candidates"]
    assert cand["held_out_score"] == pytest.approx(1.0) and cand["held_out_mean_z"] == pytest.approx(1.5)
    assert cand["held_out"]["mnist1d-vit"]["mean"] == pytest.approx(0.82)
    assert cand["held_out"]["mnist1d-vit"]["sd"] == pytest.approx(math.sqrt(0.0008))  # sample sd of 0.80, 0.84
    assert cand["held_out"]["mnist1d"]["z"] == pytest.approx(2.0) and cand["held_out"]["mnist1d"]["seeds"] == 2
    assert relu["held_out_score"] == pytest.approx(0.0) and swish["held_out_score"] == pytest.approx(0.5)
    # paired by seed, Holm over the 4 comparisons (the diverged candidate has no scores): differences
    # vs relu: vit [0.02, 0.02] (no spread: exact, p 0), mnist1d [0.01, 0.03] (t = 2, 1 df);
    # vs swish: vit [-0.01, 0.03] (t = 0.5), mnist1d [-0.10, -0.06] (t = -4); p(t, 1 df) = 1 − 2/π·atan|t|
    comps = {(c["against"], c["task"]): c for c in table["comparisons"]}
    assert {c["expression"] for c in table["comparisons"]} == {"min(x, atan(x))"} and len(comps) == 4
    p = {k: 1 - 2 / math.pi * math.atan(t) for k, t in (("relu-1d", 2), ("swish-vit", 0.5), ("swish-1d", 4))}
    assert comps[("relu", "mnist1d")]["mean_diff"] == pytest.approx(0.02)
    assert comps[("relu", "mnist1d")]["p"] == pytest.approx(p["relu-1d"])
    assert comps[("swish", "mnist1d")]["p"] == pytest.approx(p["swish-1d"])
    assert comps[("relu", "mnist1d-vit")]["p"] == 0.0 and comps[("relu", "mnist1d-vit")]["n"] == 2
    adjusted = [comps[k]["p_adjusted"] for k in (("relu", "mnist1d-vit"), ("swish", "mnist1d"), ("relu", "mnist1d"),
                                                 ("swish", "mnist1d-vit"))]
    assert adjusted == pytest.approx([0.0, 3 * p["swish-1d"], 2 * p["relu-1d"], p["swish-vit"]])
    assert cand["vs"] == {"relu": {"mnist1d-vit": "better", "mnist1d": "no clear difference"},
                          "swish": {"mnist1d-vit": "no clear difference", "mnist1d": "no clear difference"}}
    assert relu["vs"] == {} and swish["vs"] == {}
    assert table["summary"] == [
        "min(x, atan(x)) (p_adj < 0.001) is better than relu on mnist1d-vit.",
        "No candidate is better than swish on any held-out architecture (mnist1d-vit, mnist1d; 2 seeds, paired): "
        "1 compared, Holm-corrected."]
    assert cand["search"] == {"score": pytest.approx(1.5), "sd": 0.0, "seeds": 3}
    assert swish["params"] == {"beta": 1.0} and swish["search"]["score"] == pytest.approx(2.0)
    assert bad["status"] == "diverged" and bad["held_out"] == {} and bad["held_out_score"] is None
    assert table["architectures"] == ["mnist1d-vit", "mnist1d"] and table["wall_s"] == {"search": 1.0}
    path = write_table(table, tmp_path / "discover.json")
    assert json.loads(path.read_text())["candidates"][0]["expression"] == "min(x, atan(x))"


def test_a_large_gap_on_two_seeds_ranks_first_but_is_no_verdict(store):
    act = actsearch.parse("x * tanh(x)")
    store.record("x * tanh(x)", act.fingerprint, _held_out({"mnist1d-vit": [0.90, 0.92], "mnist1d": [0.90, 0.93]}),
                 task=HELD, settings=HELD_SETTINGS, role=Role.VALIDATION, seeds=[0, 1])
    best = discover_table(store, search=(SEARCH_TASK, {}), held_out=(HELD, HELD_SETTINGS))["candidates"][0]
    assert best["expression"] == "x * tanh(x)" and best["held_out_score"] > 4
    # 0.12 and 0.10 above relu on mnist1d-vit: t = 11 on 1 df, p = 0.058 before any correction
    assert set(best["vs"]) == {"relu", "swish"}
    assert all(v == "no clear difference" for by_task in best["vs"].values() for v in by_task.values())
    assert best["search"] is None  # not a search row of this run
