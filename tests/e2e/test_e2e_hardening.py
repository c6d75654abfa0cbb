"""Hardening without a search: fuzzed user input, a read-only run directory, readers beside the writer,
re-scoring a stored candidate with more seeds, and the rediscover plan's budget."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import actsearch
from actsearch.errors import UserError
from actsearch.evaluators.result import CandidateResult, EvalResult
from actsearch.results.store import SqliteStore
from actsearch.search.pipelines import get_pipeline
from actsearch.search.pipelines.rediscover import confirm_wall_s, estimate_wall_s, rl_budget
from actsearch.search.space.files import load_space

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

CLI = [sys.executable, "-m", "actsearch.cli"]
TOKENS = ["x", "beta", "(", ")", ",", "+", "-", "*", "/", "^", "**", "1", "0.5", "1e9", "-3", "sigmoid",
          "max", "min", "exp", "log", "abs", "sqrt", "tanh", "sinc", "relu", "erf", "gauss", "pi", "e",
          "y", "__import__", "os", "'", '"', ";", "=", "[", "]", "{", "}", "nan", "inf", " ", "\x00", "é"]
TOML_KEYS = ["description", "units", "unary", "binary", "gated", "chain", "primitives", "primitives.sq",
             "extra", "unary.x"]
TOML_VALUES = ['"all"', '["x", "neg"]', '["nope"]', "[]", "1", "0", "-1", "99999", "true", "1.5", '"x^2"',
               '"sigmoid(x"', "{}", '{ a = 1 }', '["add", 3]', '"', "[", "nan", '"__import__(os)"']


def _grammar_garbage() -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(TOKENS), max_size=25).map("".join)


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(st.binary(max_size=80).map(lambda b: b.decode("latin-1")), _grammar_garbage()))
def test_parse_raises_only_documented_errors(text):
    try:
        act = actsearch.parse(text)
    except actsearch.ExpressionError as err:
        assert str(err) and "\n" not in str(err).strip()
    else:
        assert isinstance(act.fingerprint, str) and act.fingerprint


def _toml_garbage() -> st.SearchStrategy[str]:
    line = st.tuples(st.sampled_from(TOML_KEYS), st.sampled_from(TOML_VALUES)).map(lambda kv: f"{kv[0]} = {kv[1]}")
    return st.lists(line, max_size=6).map("\n".join)


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(st.binary(max_size=120), _toml_garbage().map(str.encode)))
def test_space_files_raise_only_documented_errors(tmp_path_factory, data):
    path = tmp_path_factory.getbasetemp() / "fuzz-space.toml"
    path.write_bytes(data)
    try:
        space = load_space(path)
    except UserError as err:  # SpaceError, ExpressionError: one line each
        assert str(err).strip()
    else:
        assert space.raw_size >= 0


def _result(scores: list[float], seeds: list[int]) -> CandidateResult:
    return CandidateResult.from_runs([EvalResult("ok", s, seed, 0.1, {"dnr": 0.1}) for s, seed in zip(scores, seeds, strict=True)],
                                     metrics={"dnr": 0.1})


def test_add_runs_merges_new_seeds_once_into_row_and_aliases(tmp_path):
    act = actsearch.parse("x * sigmoid(x)")
    with SqliteStore(tmp_path) as store:
        row = store.record(act.text, act.fingerprint, _result([0.8], [0]), task="t", trial=1,
                           seeds=[0], aliases=["x / (1 + exp(-x))"])
        rec = store.add_runs(row, _result([0.6, 0.7], [1, 2]), [1, 2])
        again = store.add_runs(row, _result([0.0, 0.1], [1, 2]), [1, 2])  # seeds already stored: ignored
        rows = store.candidates(task="t")
    assert rec.seeds == [0, 1, 2] and [r["seed"] for r in rec.runs] == [0, 1, 2]
    assert rec.score == pytest.approx(0.7) and rec.score_std == pytest.approx(0.0816, abs=1e-3)
    assert again.score == rec.score and again.seeds == rec.seeds
    alias = [r for r in rows if r.alias_of == row]
    assert len(alias) == 1 and alias[0].score == pytest.approx(0.7) and alias[0].seeds == [0, 1, 2]


def test_rediscover_plan_budget_is_a_fixed_candidate_count():
    plan = get_pipeline("rediscover").plan
    full = replace(plan, scheduler="fifo")
    assert 20 <= rl_budget(plan) <= 100 and rl_budget(plan) == rl_budget(get_pipeline("rediscover").plan)
    assert rl_budget(plan) == rl_budget(full)  # halving trains the same candidates, in less time
    assert 20 * 60 < estimate_wall_s(full) < 40 * 60  # the ~30-minute plan on 2 workers
    assert estimate_wall_s(plan) < 0.7 * estimate_wall_s(full)
    assert rl_budget(get_pipeline("rediscover-smoke").plan) == 4
    # the rl phase gets what remains of 30 minutes; the verdict (~5 min) comes on top
    assert 28 * 60 < estimate_wall_s(full) - confirm_wall_s(full) <= 30 * 60 < estimate_wall_s(full)
    assert 4 * 60 < confirm_wall_s(plan) < 8 * 60


def test_rediscover_searches_under_halving_with_the_checkpoints_its_rungs_fall_on():
    """The search phases' spec names the scheduler, and every phase's rows share its settings; a run
    stored before the plan named one resumes as it started (fifo, its own settings), a newer one keeps
    its own."""
    pipeline = get_pipeline("rediscover")
    spec = pipeline.spec(66, workers=2, address=None)
    assert spec.scheduler == "halving" and spec.task_overrides == {"checkpoints": 9}
    smoke = get_pipeline("rediscover-smoke").spec(4, workers=2, address=None)
    assert smoke.scheduler == "halving" and smoke.task_overrides == {"steps": 400, "checkpoints": 9}
    legacy = pipeline.resumed({"rl_candidates": 66, "task_overrides": {}})
    assert legacy.plan.scheduler == "fifo"
    assert legacy.spec(66, workers=2, address=None).task_overrides == {} and legacy.spec(
        66, workers=2, address=None).scheduler == "fifo"
    assert pipeline.resumed({"rl_candidates": 66, "scheduler": "halving"}) is pipeline


def test_resumed_preset_keeps_the_rl_budget_it_started_with(tmp_path):
    """A run started under other measured rates resumes with its stored rl budget (all phases done
    here, so nothing trains and Ray never starts)."""
    from actsearch.search.pipelines import STATE, run_pipeline
    from actsearch.search.rundir.spec import SearchSpec, prepare

    run_preset_dir = tmp_path / "run"
    with pytest.raises(UserError):  # nothing to resume yet
        run_pipeline("rediscover", run_preset_dir, resume=True)
    plan = get_pipeline("rediscover").plan
    base = SearchSpec(space=plan.space, searcher="exhaustive", task=plan.task, budget=plan.exhaustive_budget,
                      seeds=1, workers=2, references=plan.references, prescreen=False)
    with prepare(base, run_preset_dir) as store:
        store.init_run({"preset": "rediscover", "plan": {"rl_candidates": 7}})
        store.save_state(STATE, {"done": ["exhaustive", "rung1", "rung2", "rl", "top-up"], "wall_s": {}})
    # (a plan stored before the preset named a scheduler: it resumes as it started, fifo, no checkpoints)
    summary = run_pipeline("rediscover", run_preset_dir, resume=True, log=lambda line: None)
    assert summary["rl_candidates"] == 7 != rl_budget(plan) and not summary["interrupted"]
    with SqliteStore(run_preset_dir, readonly=True) as store:
        assert store.meta()["plan"]["rl_candidates"] == 7


def test_resuming_a_preset_honours_address_and_plain_and_refuses_a_budget(tmp_path):
    """``actsearch resume`` of a preset passes ``--address`` (stored as the run's address) and ``--workers``
    on; ``--plain`` is how a preset always logs; its budget is its plan, so ``--budget`` is one line."""
    from typer.testing import CliRunner

    from actsearch.cli import app
    from actsearch.search.pipelines import STATE
    from actsearch.search.rundir.spec import SearchSpec, prepare

    run = tmp_path / "run"
    plan = get_pipeline("rediscover-smoke").plan
    base = SearchSpec(space=plan.space, searcher="exhaustive", task=plan.task, budget=plan.exhaustive_budget,
                      seeds=1, workers=2, references=plan.references, task_overrides=dict(plan.task_overrides),
                      prescreen=False)
    with prepare(base, run) as store:  # every phase done: nothing trains and Ray never starts
        store.init_run({"preset": "rediscover-smoke", "plan": {"rl_candidates": 4}})
        store.save_state(STATE, {"done": ["exhaustive", "rung1", "rl", "top-up"], "wall_s": {}})
    refused = CliRunner().invoke(app, ["resume", str(run), "--budget", "9"])
    assert isinstance(refused.exception, UserError) and "--budget and --pack do not apply" in str(refused.exception)
    done = CliRunner().invoke(app, ["resume", str(run), "--plain", "--workers", "3", "--address", "10.0.0.9:6379"])
    assert done.exit_code == 0, done.output
    assert "\nrediscover-smoke: 0 search candidates" in done.output
    assert "No verdict: " in done.output and "no successful search candidate" in done.output  # said, not raised
    with SqliteStore(run, readonly=True) as store:
        spec = store.meta()["spec"]
    assert (spec["address"], spec["workers"]) == ("10.0.0.9:6379", 3)
    kept = CliRunner().invoke(app, ["resume", str(run)])  # the stored workers; no address: the local Ray
    assert kept.exit_code == 0, kept.output
    with SqliteStore(run, readonly=True) as store:
        assert (store.meta()["spec"]["address"], store.meta()["spec"]["workers"]) == (None, 3)
    again = CliRunner().invoke(app, ["search", "--preset", "rediscover", "--smoke", "--run-dir", str(run)])
    assert isinstance(again.exception, UserError) and f"actsearch resume {run}" in str(again.exception)


def _fill(run_dir: Path, n: int) -> None:
    with SqliteStore(run_dir) as store:
        store.init_run({"spec": {"space": "quick"}, "task": "t"})
        for i in range(n):
            act = actsearch.parse(f"x + {i + 1}")
            store.record(act.text, act.fingerprint, _result([0.5 + i / 1000], [0]), task="t",
                         trial=i + 1, searcher="random", step=i, seeds=[0])


NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def _nobody_can_run_actsearch() -> bool:
    """Root ignores file modes, so the test drops to nobody; that needs a checkout nobody can read."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("setpriv") is None:
        return False
    probe = subprocess.run(NOBODY + [sys.executable, "-c", "import actsearch.cli"], capture_output=True)
    return probe.returncode == 0


def test_read_only_run_directory_one_line_error_nothing_lost():
    if not _nobody_can_run_actsearch():
        pytest.skip("needs root and a checkout the unprivileged user can read (root ignores file modes)")
    base = Path(tempfile.mkdtemp(prefix="actsearch-ro-"))  # pytest's tmp dirs are closed to other users
    run = base / "run"
    _fill(run, 5)
    before = [(r.id, r.fingerprint, r.score) for r in SqliteStore(run, readonly=True).candidates()]
    os.chmod(base, 0o755)
    for f in run.iterdir():
        os.chmod(f, 0o444)
    os.chmod(run, 0o555)
    nobody = NOBODY
    try:
        out = subprocess.run(nobody + CLI + ["resume", str(run), "--budget", "6"],
                             capture_output=True, text=True, timeout=120)
        board = subprocess.run(nobody + CLI + ["leaderboard", str(run), "--format", "json"],
                               capture_output=True, text=True, timeout=120)
        os.chmod(base, 0o700)  # a run directory this user may not even look into
        closed = subprocess.run(nobody + CLI + ["resume", str(run), "--budget", "6"],
                                capture_output=True, text=True, timeout=120)
    finally:
        os.chmod(run, 0o755)
        after = [(r.id, r.fingerprint, r.score) for r in SqliteStore(run, readonly=True).candidates()]
        shutil.rmtree(base)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in out.stderr
    assert closed.returncode == 2 and closed.stderr.startswith("error: ") and closed.stderr.count("\n") == 1
    assert board.returncode == 0 and board.stdout.count('"expression"') == 5  # a reader still reads it
    assert after == before


READER = """
import sys, time
import actsearch
run, stop, ready = sys.argv[1], sys.argv[2], sys.argv[3]
import os
counts = []
while not os.path.exists(stop):
    if len(counts) == 1:
        open(ready, "w").close()
    with actsearch.open_run(run) as r:
        board = r.leaderboard(top=1000, properties=False)
    counts.append(len(board))
    assert all(e.score is not None for e in board)
print(len(counts), min(counts), max(counts), int(counts == sorted(counts)))
"""


def test_readers_never_block_or_corrupt_the_writer(tmp_path):
    run = tmp_path / "run"
    _fill(run, 1)
    stop = tmp_path / "stop"
    ready = [tmp_path / f"ready{i}" for i in range(2)]
    readers = [subprocess.Popen([sys.executable, "-c", READER, str(run), str(stop), str(r)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for r in ready]
    slowest, n = 0.0, 100
    try:
        deadline = time.monotonic() + 60
        while not all(r.exists() for r in ready) and time.monotonic() < deadline:
            time.sleep(0.1)  # until both readers are looping
        with SqliteStore(run) as store:
            for i in range(1, n):
                act = actsearch.parse(f"x * {i + 1}")
                t0 = time.perf_counter()
                store.record(act.text, act.fingerprint, _result([0.5], [0]), task="t", trial=i + 1,
                             searcher="random", step=i, seeds=[0])
                slowest = max(slowest, time.perf_counter() - t0)
                time.sleep(0.01)
    finally:
        stop.touch()
        outs = [p.communicate(timeout=120) for p in readers]
    for (out, err), p in zip(outs, readers, strict=True):
        assert p.returncode == 0, err
        loops, low, high, monotonic = map(int, out.split())
        assert loops >= 2 and 1 <= low <= high <= n and monotonic == 1
    assert slowest < 2.0  # a reader never held the writer up (busy timeout is 30 s)
    rows = SqliteStore(run, readonly=True).candidates(task="t")
    assert len(rows) == n and len({r.fingerprint for r in rows}) == n


@pytest.mark.parametrize(("args", "message"), [
    (["--preset", "nope"], "unknown preset 'nope'"),
    (["--smoke", "--space", "quick", "--budget", "2"], "--smoke needs --preset"),
    (["--searcher", "random"], "--space and --budget are required"),
    (["--preset", "rediscover", "--steps", "5"], "--preset runs its own plan"),
    (["--space", "quick", "--budget", "2", "--task", "digits", "-O", "temperature=hot"], "bad option"),
])
def test_preset_cli_errors_are_one_line(tmp_path, args, message):
    out = subprocess.run(CLI + ["search", *args, "--run-dir", str(tmp_path / "run")], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 2 and out.stderr.strip() == f"error: {out.stderr.strip()[7:]}"
    assert message in out.stderr and "\n" not in out.stderr.strip()
    assert not (tmp_path / "run").exists()  # nothing was written
