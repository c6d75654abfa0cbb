"""Every bad setting is refused in one line before anything starts (issue: hardening, items 3-5)."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actsearch.errors import UserError
from actsearch.evaluators import get_task, registry
from actsearch.evaluators.panel import PANEL_LIMITS
from actsearch.limits import RUN_SETTINGS, Range, SettingError, check
from actsearch.search.rundir.spec import SearchSpec
from actsearch.search.rundir.spec import check as check_spec
from tests.helpers.cli import error_lines, run_cli

SEARCH = ["search", "--space", "quick", "--searcher", "random", "--task", "digits", "--budget", "2"]


@pytest.mark.parametrize("args, message", [
    (["--set", "width=0"], "width must be >= 1"),
    (["--set", "depth=100000"], "depth must be >= 1 and <= 64"),
    (["--set", "lr=-5"], "lr must be > 0"),
    (["--set", "weight_decay=nan"], "weight_decay must be >= 0"),
    (["--set", "val_size=5000"], "val_size must be at most"),
    (["--time-limit", "0"], "--time-limit must be > 0"),
    (["--time-limit", "-1"], "--time-limit must be > 0"),
    (["--time-limit", "nan"], "--time-limit must be > 0"),
    (["--gpus-per-trial", "1"], "--gpus-per-trial 1"),
    (["--cpus-per-trial", "100"], "--cpus-per-trial 100 is more than"),
    (["--address", "127.0.0.1:99999"], "out of range"),
])
def test_search_refuses_bad_settings_before_anything_starts(tmp_path, args, message):
    import torch

    if "--gpus-per-trial" in args and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    code, _, err = run_cli(*SEARCH, "--run-dir", str(tmp_path / "run"), *args)
    assert code == 2 and len(error_lines(err)) == 1 and message in err, err
    assert not (tmp_path / "run").exists()  # nothing written, no Ray started


def test_resume_refuses_a_zero_budget(tmp_path):
    from actsearch.search.rundir.spec import prepare

    prepare(SearchSpec(space="quick", searcher="random", task="digits", budget=2), tmp_path).close()
    code, _, err = run_cli("resume", str(tmp_path), "--budget", "0")
    assert code == 2 and "--budget must be >= 1" in err


def test_evaluate_refuses_a_constant_the_expression_lacks():
    code, _, err = run_cli("evaluate", "x*sigmoid(beta*x)", "--param", "gamma=1", "--task", "xor")
    assert code == 2 and "has no constant 'gamma'" in err and "beta" in err
    code, _, err = run_cli("evaluate", "swish", "--param", "alpha=1", "--task", "xor")
    assert code == 2 and "has no constant 'alpha'" in err


def test_space_dedup_refuses_a_space_too_large_to_count():
    code, _, err = run_cli("space", "paper-2", "--dedup")
    assert code == 2 and "refused above" in err and len(error_lines(err)) == 1


NUMERIC = ("int", "float", "int | None", "float | None")


def test_every_numeric_task_setting_has_a_range():
    """Every numeric field of every registered task's config: from the shared training settings or
    the task's own ``limits=``; and a panel's own."""
    import dataclasses

    from actsearch.evaluators.panel import PanelConfig

    for entry in registry.entries():
        for f in dataclasses.fields(entry.config):
            if f.type in NUMERIC:
                assert f.name in entry.ranges(), (f"{entry.name}.{f.name} has no range: declare it in "
                                                  f"@register_task(..., limits=...)")
    assert {f.name for f in dataclasses.fields(PanelConfig) if f.type in NUMERIC} == set(PANEL_LIMITS)


# (task, setting, range) of every range a task's settings have: each registered task's (shared and
# its own) and a panel's; the hypothesis test below draws from them all.
def _ranges() -> list[tuple[str, str, Range]]:
    import dataclasses

    own = [(e.name, f.name, e.ranges()[f.name]) for e in registry.entries() for f in dataclasses.fields(e.config)
           if f.name in e.ranges()]
    return own + [("panel:xor", name, rule) for name, rule in PANEL_LIMITS.items() if name != "checkpoints"]


RANGES = _ranges()


def test_check_spec_covers_the_run_settings():
    good = SearchSpec(space="quick")
    check_spec(good)
    for key, bad in (("budget", 0), ("seeds", 0), ("workers", 0), ("cpus_per_trial", 0.0),
                     ("gpus_per_trial", -1.0), ("time_limit_s", math.inf)):
        with pytest.raises(SettingError):
            check_spec(SearchSpec(space="quick", **{key: bad}))


@pytest.mark.train
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(RANGES), st.one_of(
    st.integers(-10**9, 10**9), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8)))
def test_task_settings_are_accepted_only_inside_their_range(where, value):
    task, name, rule = where
    try:
        cfg = get_task(task, **{name: value}).config
    except UserError as err:
        assert str(err) and "\n" not in str(err)
        return
    except TypeError:  # a setting the task lacks is a UserError too: this must not happen
        raise
    stored = getattr(cfg, name)
    assert rule.ok(float(stored)), (task, name, value, stored)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(RUN_SETTINGS)), st.floats(allow_nan=True, allow_infinity=True))
def test_run_settings_are_accepted_only_inside_their_range(name, value):
    try:
        check(name, value)
    except SettingError as err:
        assert "\n" not in str(err) and name in str(err)
        assert not RUN_SETTINGS[name].ok(value)
    else:
        assert RUN_SETTINGS[name].ok(value)


OPTION_VALUES = {
    "--seeds": st.sampled_from(["0", "-1", "1", "2", "x", "1e9"]),
    "--time-limit": st.sampled_from(["0", "-1", "nan", "inf", "1e-9", "30", "abc"]),
    "--threads": st.sampled_from(["0", "1", "2", "-3", "nan"]),
    "--steps": st.sampled_from(["0", "1", "5", "-2", "1.5"]),
    "--set": st.sampled_from(["epochs=0", "epochs=5", "lr=-1", "lr=nan", "trials=2", "trials=x", "bias=maybe",
                              "inputs=01", "inputs=zz", "nosuch=1", "=", "lr"]),
    "--param": st.sampled_from(["beta=1", "beta=nan", "gamma=2", "beta", "=1"]),
}


@pytest.mark.train
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from(sorted(OPTION_VALUES)), max_size=4).flatmap(
    lambda keys: st.tuples(*[st.tuples(st.just(k), OPTION_VALUES[k]) for k in keys])),
    st.sampled_from(["x*sigmoid(beta*x)", "relu", "1/0", "x*", "beta*x"]))
def test_fuzzed_evaluate_options_end_in_a_result_or_one_line(options, expression):
    args = ["evaluate", expression, "--task", "xor", "--set", "trials=1", "--set", "epochs=5", "--json"]
    for key, value in options:
        args += [key, value]
    code, _, err = run_cli(*args)
    assert code in (0, 2), err
    if code == 2:
        assert len(error_lines(err)) == 1 and "Traceback" not in err, err


SEARCH_VALUES = {
    "--budget": st.sampled_from(["0", "-1", "3", "x", "1e3", "99999999999"]),
    "--workers": st.sampled_from(["0", "1", "-2", "y"]),
    "--seeds": st.sampled_from(["0", "2", "1001"]),
    "--time-limit": st.sampled_from(["0", "-1", "nan", "inf", "5"]),
    "--cpus-per-trial": st.sampled_from(["0", "0.5", "1", "100", "nan"]),
    "--gpus-per-trial": st.sampled_from(["0", "1", "-1", "nan"]),
    "--scheduler": st.sampled_from(["asha", "fifo", "hyperband"]),
    "--searcher": st.sampled_from(["random", "evolution", "nope"]),
    "--space": st.sampled_from(["quick", "nope", "x-gated"]),
    "--option": st.sampled_from(["population_size=0", "temperature=nan", "x", "=1"]),
    "--set": st.sampled_from(["width=0", "lr=nan", "steps=5", "depth=99"]),
    "--address": st.sampled_from(["127.0.0.1:99999", "localhost", "ray://h:1", ":1"]),
}


@pytest.mark.train
@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from(sorted(SEARCH_VALUES)), max_size=5, unique=True).flatmap(
    lambda keys: st.tuples(*[st.tuples(st.just(k), SEARCH_VALUES[k]) for k in keys])))
def test_fuzzed_search_options_are_refused_in_one_line_before_ray_starts(tmp_path_factory, options):
    run = tmp_path_factory.mktemp("fuzz") / "run"
    args = ["search", "--space", "quick", "--budget", "2", "--task", f"table:{run}-missing.csv", "--run-dir", str(run)]
    for key, value in options:
        args += [key, value]
    code, _, err = run_cli(*args)  # the table does not exist, so no value combination can start a search
    assert code == 2 and len(error_lines(err)) == 1 and "Traceback" not in err, err
    assert not run.exists()


# -- second round: H3, H4, W4, C7, C11 --------------------------------------------------------------
XOR = ["evaluate", "relu", "--task", "xor", "--set", "trials=1", "--set", "epochs=2"]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_a_panel_reference_that_is_not_a_regular_file_is_refused_at_once(tmp_path, kind):
    """H3: a FIFO would block the read, /dev/zero would fill the memory; also from a stored run."""
    import os

    path = tmp_path / "ref.json"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path = "/dev/zero"
    code, _, err = run_cli("evaluate", "relu", "--task", "panel:xor,teacher", "--set", f"reference={path}")
    assert code == 2 and len(error_lines(err)) == 1 and "is not a regular file" in err, err
    from actsearch.search.rundir.spec import prepare

    run = tmp_path / "run"
    prepare(SearchSpec(space="quick", searcher="random", task="panel:xor,teacher", budget=2, references=(),
                       task_overrides={"reference": str(path)}), run).close()
    code, _, err = run_cli("resume", str(run), "--plain")
    assert code == 2 and len(error_lines(err)) == 1 and "is not a regular file" in err, err


def test_a_panel_reference_above_the_size_bound_is_refused(tmp_path):
    from actsearch.limits import REFERENCE_FILE_MAX_BYTES

    big = tmp_path / "ref.json"
    with big.open("wb") as f:
        f.truncate(REFERENCE_FILE_MAX_BYTES + 1)  # sparse: nothing written, nothing read
    code, _, err = run_cli("evaluate", "relu", "--task", "panel:xor,teacher", "--set", f"reference={big}")
    assert code == 2 and "larger than" in err and len(error_lines(err)) == 1


@pytest.mark.parametrize("args, message", [
    (["--seeds", "1001"], "--seeds must be >= 1 and <= 1000"),  # H4
    (["--threads", "100000"], "--threads must be >= 1 and <= 4096"),
    (["--set", "lr=true"], "lr expects float, got True"),  # W4 (steps=true elsewhere: one step)
    (["--set", "inputs=bogus"], "inputs must be one of pm1, 01, got 'bogus'"),
    (["--set", "trials=5"], "--set trials is given twice"),
    (["--steps", "3", "--set", "steps=4"], "--steps and --set steps= are both given"),
])
def test_evaluate_refuses_bad_values_before_training(args, message):
    for command in (XOR, ["baselines", "--task", "xor", "--set", "trials=1", "--set", "epochs=2", "--only", "relu"]):
        code, out, err = run_cli(*command, *args)
        assert code == 2 and len(error_lines(err)) == 1 and message in err and not out, err


def test_cifar10_refuses_a_device_it_cannot_use():
    import torch

    code, _, err = run_cli("evaluate", "relu", "--task", "cifar10", "--set", "device=bogus")
    assert code == 2 and "device must be auto, cpu, cuda or cuda:N, got 'bogus'" in err
    if not torch.cuda.is_available():
        code, _, err = run_cli("evaluate", "relu", "--task", "cifar10", "--set", "device=cuda")
        assert code == 2 and "torch sees no GPU" in err and len(error_lines(err)) == 1


@pytest.mark.parametrize("args, message", [
    (["--option", "kappa=inf"], "searcher option kappa must be a finite number"),  # W4
    (["--option", "temperature=nan"], "searcher option temperature must be a finite number"),
    (["--option", "population_size=3", "--option", "population_size=4"], "--option population_size is given twice"),
    (["--run-dir", ""], "--run-dir is empty"),
])
def test_search_refuses_bad_values_before_anything_is_written(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    base = [a for a in SEARCH if a != "--run-dir"]
    if "--run-dir" not in args:
        base += ["--run-dir", str(tmp_path / "run")]
    code, _, err = run_cli(*base, *args)
    assert code == 2 and len(error_lines(err)) == 1 and message in err, err
    assert list(tmp_path.iterdir()) == []  # no store in the current directory, no run directory


@pytest.mark.train
def test_resume_refuses_a_budget_below_what_is_done(tmp_path):
    """W4: it would silently lower the stored budget of the run."""
    import actsearch

    run = tmp_path / "run"
    with actsearch.run_search(space="quick", searcher="random", task="xor", budget=3, references=(), run_dir=run,
                              settings={"trials": 1, "epochs": 2}, executor="inprocess"):
        pass
    code, _, err = run_cli("resume", str(run), "--budget", "2")
    assert code == 2 and "--budget 2 is below the 3 candidates this run has already evaluated" in err
    with pytest.raises(UserError, match="budget 1 is below the 3"):
        actsearch.run_search(space="quick", searcher="random", task="xor", budget=1, references=(), run_dir=run,
                             settings={"trials": 1, "epochs": 2}, executor="inprocess", resume=True)
    from actsearch.results.store import SqliteStore

    with SqliteStore(run, readonly=True) as store:
        assert store.meta()["budget"] == 3


@pytest.mark.timeout(60)
def test_space_files_nested_deeply_or_too_large_are_refused_in_one_line(tmp_path):
    """C7: a RecursionError from the TOML parser, a 3 GB file read whole."""
    deep = tmp_path / "deep.toml"
    deep.write_text("unary = " + "[" * 50_000 + "]" * 50_000 + "\n")
    huge = tmp_path / "huge.toml"
    with huge.open("wb") as f:
        f.truncate(3 * 10**9)  # sparse
    for path, message in ((deep, "nested too deeply"), (huge, "a space file is at most 1,000,000 bytes")):
        code, _, err = run_cli("space", str(path))
        assert code == 2 and len(error_lines(err)) == 1 and message in err, err
        code, _, err = run_cli("search", "--space", str(path), "--task", "digits", "--budget", "1",
                               "--run-dir", str(tmp_path / "run"))
        assert code == 2 and len(error_lines(err)) == 1 and message in err, err
        assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("bad, name", [
    ({"task": None}, "task"), ({"task": ""}, "task"), ({"budget": "3"}, "budget"), ({"budget": 2.5}, "budget"),
    ({"seeds": True}, "seeds"), ({"workers": "2"}, "workers"), ({"settings": "abc"}, "settings"),
    ({"options": [1]}, "options"), ({"on_event": 42}, "on_event"), ({"run_dir": ""}, "run_dir"),
    ({"references": "relu"}, "references"), ({"resume": "yes"}, "resume"), ({"space": None}, "space"),
    ({"options": {"kappa": float("inf")}}, "kappa"), ({"prescreen": "no"}, "prescreen"),
])
def test_the_python_api_checks_its_arguments_before_any_work(tmp_path, monkeypatch, bad, name):
    """C11: each wrong argument is a UserError naming it, before anything is built or written."""
    import actsearch

    monkeypatch.chdir(tmp_path)
    args = dict(space="quick", searcher="random", task="xor", budget=1, references=(), run_dir=tmp_path / "run",
                settings={"trials": 1, "epochs": 2}, executor="inprocess")
    with pytest.raises(UserError, match=name):
        actsearch.run_search(**{**args, **bad})
    assert list(tmp_path.iterdir()) == []
