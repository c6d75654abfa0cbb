"""The benchmark harness (``benchmarks/harness.py``): common arguments, machine information, the JSON
it saves (the script's own keys untouched, plus ``provenance``), its timers, and that every
benchmark script goes through it."""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))
import harness  # noqa: E402

SCRIPTS = sorted(p for p in BENCH.glob("*.py") if p.name != "harness.py")


def test_parser_gives_the_common_arguments_and_the_results_default():
    ap = harness.parser("Title line.\n\nmore", "bench_x", quick=True, repeats=3)
    args = ap.parse_args([])
    assert args.out == BENCH / "results" / "bench_x.json"
    assert (args.quick, args.repeats, args.machine) == (False, 3, "shared, 2 cores")
    assert ap.description == "Title line."
    args = ap.parse_args(["--quick", "--repeats", "1", "--out", "/tmp/x.json", "--machine", "idle"])
    assert (args.quick, args.repeats, args.out, args.machine) == (True, 1, Path("/tmp/x.json"), "idle")


def test_parser_adds_quick_and_repeats_only_when_asked():
    ap = harness.parser(None, "bench_y", out=None)
    args = ap.parse_args([])
    assert args.out is None and not hasattr(args, "quick") and not hasattr(args, "repeats")
    with pytest.raises(SystemExit):
        ap.parse_args(["--quick"])


def test_save_keeps_the_payload_and_adds_provenance(tmp_path):
    args = harness.parser(None, "bench_z").parse_args(["--machine", "idle, 2 cores"])
    payload = {"benchmark": "bench_z", "machine": "a script's own key", "rows": [{"a": 1.5}]}
    path = harness.save(tmp_path / "deep" / "z.json", payload, args, indent=1, quiet=True)
    data = json.loads(path.read_text())
    assert {k: data[k] for k in payload} == payload  # the script's keys, unchanged
    assert set(data) == {*payload, harness.PROVENANCE}
    prov = data[harness.PROVENANCE]
    assert prov["note"] == "idle, 2 cores"
    assert prov["command"].startswith("python ")
    assert prov["wall_s"] >= 0 and prov["started"] <= prov["finished"]
    rev = prov["git"]["revision"]
    assert rev is None or re.fullmatch(r"[0-9a-f]{40}", rev)
    assert payload == {"benchmark": "bench_z", "machine": "a script's own key", "rows": [{"a": 1.5}]}  # not mutated


def test_save_of_a_bare_name_goes_to_the_results_folder(monkeypatch, tmp_path):
    monkeypatch.setattr(harness, "RESULTS", tmp_path)
    path = harness.save("bench_w", {"x": 1}, quiet=True)
    assert path == tmp_path / "bench_w.json" and json.loads(path.read_text())["x"] == 1


def test_machine_reports_cores_load_and_idleness():
    info = harness.machine()
    assert info["cpus"] >= 1 and len(info["load_avg_start"]) == 3 and len(info["load_avg_end"]) == 3
    assert info["idle"] == (info["load_avg_start"][0] < harness.IDLE_LOAD)
    assert info["python"].count(".") == 2


def test_command_line_is_relative_to_the_repository():
    line = harness.command_line([str(BENCH / "bench_x.py"), "--out", "a b.json"])
    assert line == "python benchmarks/bench_x.py --out 'a b.json'"


def test_timers_return_the_fewest_and_the_last_result():
    calls = []
    best, out = harness.timed(lambda: calls.append(1) or len(calls), 3)
    assert out == 3 and best >= 0
    a, ra, b, rb = harness.timed_pair(lambda: "first", lambda: "second", 2)
    assert (ra, rb) == ("first", "second") and a >= 0 and b >= 0
    n = []
    assert harness.fewest_ms(lambda: n.append(0), calls=4, repeats=2, warm=1) >= 0
    assert len(n) == 1 + 4 * 2


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_script_uses_the_harness(script):
    """Arguments and saving go through the harness: no script builds its own parser or writes JSON."""
    tree = ast.parse(script.read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "harness" in imported
    assert "argparse.ArgumentParser" not in script.read_text()
    writes = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
              and n.func.attr == "write_text" and any(isinstance(a, ast.Call) and ast.unparse(a).startswith("json.dumps")
                                                      for a in n.args)]
    allowed = {"transfer_study.py"}  # writes its input data file (benchmarks/data), not a result
    assert not writes or script.name in allowed, f"{script.name} writes JSON itself"
