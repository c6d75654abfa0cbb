"""Expressions that used to hang or give a traceback: huge constant powers, many constants,
out-of-range initial values, plot formats, export class names (issue 27: H1, C4, C5, C6, C8, C11
and the cosmetic findings of ``inspect``)."""

from __future__ import annotations

import ast
import time
import warnings
from pathlib import Path

import pytest
import torch

import actsearch
from actsearch.errors import UserError, shorten
from actsearch.evaluators.result import CandidateResult, EvalResult
from actsearch.grammar.symbolic import to_sympy
from actsearch.results import export
from actsearch.results.store import SqliteStore
from tests.helpers.cli import error_lines, run_cli

HUGE_POWERS = ["9^9^9", "2^2^2^2^2^2", "x * 1^(9^9^9)"]


def _one_line_or_ok(code, err) -> None:
    assert code in (0, 2) and "Traceback" not in err
    if code == 2:
        assert len(error_lines(err)) == 1 and len(err.strip().splitlines()) == 1


@pytest.mark.timeout(30)
@pytest.mark.parametrize("text", HUGE_POWERS)
def test_h1_inspect_of_huge_constant_powers_finishes(text):
    """H1: sympy computed 9^387420489 exactly and never finished."""
    start = time.perf_counter()
    code, out, err = run_cli("inspect", text, "--json")
    _one_line_or_ok(code, err)
    assert time.perf_counter() - start < 20


@pytest.mark.timeout(30)
@pytest.mark.parametrize("text", ["sin(x) * 1^(9^9^9)", "(x + 1)^(9^9)", "(3 * x)^(9^9)", "sqrt(3)^(9^9) * x",
                                  "((2^60)^60)^60^60 + x", "(((1e200 * sqrt(2) * x)^64)^64)^64",
                                  "((1e300 + 1) / 1e300)^64^64 * x", "(x + 1)^(8 * 8)"])
def test_h1_canonical_form_and_fingerprint_are_bounded(text):
    """H1: the canonical form (computed after training, also by ``show``/``validate``) is bounded."""
    start = time.perf_counter()
    act = actsearch.parse(text)
    canonical = act.canonical
    assert actsearch.parse(canonical).fingerprint == act.fingerprint
    to_sympy(act.tree)  # the plain sympy form too
    assert time.perf_counter() - start < 10


def test_h1_small_exact_powers_stay_exact():
    """The bound on exact arithmetic leaves ordinary constants exact."""
    assert "sqrt(2)" in actsearch.parse("x * 2^0.5").canonical
    assert actsearch.parse("(x + 1)^2").canonical == "x^2 + 2 * x + 1"
    assert str(to_sympy(actsearch.parse("2^64 * x").tree)) == "18446744073709551616*x"


@pytest.mark.timeout(60)
def test_h1_show_of_a_stored_huge_power_finishes(tmp_path):
    """H1: ``show`` of a stored row with a huge constant power hung."""
    text = "sin(x) * 1^(9^9^9)"
    act = actsearch.parse(text)
    with SqliteStore(tmp_path / "run") as store:
        store.init_run({"task": "digits"})
        store.record(text, act.fingerprint, CandidateResult.from_runs([EvalResult(status="ok", score=0.5, seed=0)]),
                     task="digits", seeds=[0])
    code, out, err = run_cli("show", str(tmp_path / "run"), "1", "--json")
    _one_line_or_ok(code, err)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_h1_search_over_a_space_with_a_huge_power_primitive_finishes(tmp_path):
    """H1: a trial of a space primitive ``sin(x) * 1^(9^9^9)`` stayed running after training."""
    space = tmp_path / "s.toml"
    space.write_text('units = 1\nunary = ["x"]\nbinary = ["mul"]\n\n[primitives]\nhuge = "sin(x) * 1^(9^9^9)"\n')
    code, out, err = run_cli("search", "--space", str(space), "--task", "xor", "--budget", "4", "--set", "trials=1",
                             "--set", "epochs=5", "--searcher", "exhaustive", "--run-dir", str(tmp_path / "r"))
    assert code == 0, err
    with actsearch.open_run(tmp_path / "r") as run:
        rows = [e for e in run.leaderboard(include_failed=True) if "9^9^9" in e.expression]
    assert rows and all(e.status == "ok" for e in rows)
    code, out, err = run_cli("show", str(tmp_path / "r"), "1", "--json")
    assert code == 0 and "9^9^9" in out, err


def _many(k: int) -> str:
    return " + ".join(f"beta{i} * x" for i in range(k))


@pytest.mark.timeout(120)
def test_c4_sixty_four_constants_parse_inspect_module_export(tmp_path):
    """C4: 64 constants hit numpy's limit of 64 arrays in one broadcast."""
    text = _many(64)
    act = actsearch.parse(text)
    assert len(act.params) == 64 and act.fingerprint
    assert act.trivial() is None and act.properties()["linear"] is True
    y = act.module()(torch.ones(3))
    assert torch.allclose(y, torch.full((3,), 64.0))
    code, out, err = run_cli("inspect", text, "--json")
    assert code == 0, err
    path = export.write(text, {}, tmp_path / "many.py")
    assert "beta63" in path.read_text()


def test_c5_initial_value_beyond_float32_is_refused_in_one_line():
    """C5: beta=1e39 overflowed float32 inside torch."""
    code, out, err = run_cli("inspect", "x*beta", "--param", "beta=1e39")
    assert code == 2 and error_lines(err) == err.strip().splitlines()
    assert "float32" in err
    with pytest.raises(UserError, match="float32"):
        actsearch.parse("x*beta", beta=1e39)
    with pytest.raises(UserError, match="float32"):
        actsearch.Activation(actsearch.parse("x*beta").tree, {"beta": -1e39}).module()
    assert actsearch.parse("x*beta", beta=3e38).module()(torch.ones(1)).isfinite().all()


def test_c11_python_api_refuses_in_user_errors():
    """C11: parse(..., beta=10**400) and module(per_channel=True) raised raw exceptions."""
    with pytest.raises(UserError, match="beta"):
        actsearch.parse("x*beta", beta=10**400)
    with pytest.raises(UserError, match="beta"):
        actsearch.parse("x*beta", beta=True)
    act = actsearch.parse("x*beta")
    for bad in (True, 0, -1, 2.5, "4", 10**12):
        with pytest.raises(UserError, match="per_channel"):
            act.module(per_channel=bad)
    assert act.module(per_channel=4)(torch.ones(2, 4, 3)).shape == (2, 4, 3)


def test_c6_unsupported_plot_format_is_refused_before_work(tmp_path):
    """C6: ``--plot p.exe`` raised matplotlib's ValueError."""
    code, out, err = run_cli("inspect", "x", "--plot", str(tmp_path / "p.exe"))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "png" in err and "svg" in err and "pdf" in err
    assert not list(tmp_path.iterdir())


@pytest.mark.train
def test_c6_plot_prints_the_path_it_wrote(tmp_path):
    """Cosmetic: ``--plot DIR`` wrote ``DIR.png`` and printed ``DIR``."""
    code, out, err = run_cli("inspect", "x", "--plot", str(tmp_path / "plotdir"))
    assert code == 0, err
    written = tmp_path / "plotdir.png"
    assert written.is_file() and f"plot         {written}" in out
    code, out, err = run_cli("inspect", "x", "--plot", str(tmp_path / "f.svg"))
    assert code == 0 and (tmp_path / "f.svg").read_text().lstrip().startswith("<?xml")


def test_cosmetic_no_numpy_warnings_for_overflowing_functions(tmp_path):
    """Cosmetic: ``inspect "x^1e308"`` printed numpy RuntimeWarnings on stderr."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        code, out, err = run_cli("inspect", "x^1e308", "--plot", str(tmp_path / "p.png"))
    assert code == 0 and "Warning" not in err, err


def test_cosmetic_param_the_expression_lacks_is_refused():
    """Cosmetic: ``--param gamma=1`` was accepted for an expression without gamma."""
    code, out, err = run_cli("inspect", "x * sigmoid(beta * x)", "--param", "gamma=1")
    assert code == 2 and len(error_lines(err)) == 1 and "gamma" in err


@pytest.mark.parametrize("text", ["a" * 5000, "x + " + "b" * 5000, "x " + "7" * 5000, "f" * 5000 + "(x)"])
def test_cosmetic_error_lines_shorten_long_tokens(text):
    """Cosmetic: error lines echoed 5,000-character tokens."""
    code, out, err = run_cli("inspect", text)
    assert code == 2 and len(error_lines(err)) == 1
    assert len(err) < 400, err


def test_shorten():
    assert shorten("abc", 5) == "abc"
    assert shorten("a" * 100, 10) == "a" * 9 + "…"


@pytest.fixture(scope="module")
def one_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("c8") / "run"
    act = actsearch.parse("x * sigmoid(beta * x)")
    with SqliteStore(run) as store:
        store.init_run({"task": "digits"})
        store.record(act.text, act.fingerprint, CandidateResult.from_runs([EvalResult(status="ok", score=0.9, seed=0)]),
                     task="digits", params={"beta": 1.5}, seeds=[0])
    return run


@pytest.mark.parametrize("name", ["super", "__all__", "torch", "class", "print", "EXPRESSION", "t0", "beta",
                                  "match", "__init__"])
def test_c8_export_refuses_class_names_that_break_the_module(one_run, tmp_path, name):
    """C8: ``--name super`` recursed on instantiation, ``--name __all__`` broke ``import *``."""
    code, out, err = run_cli("export", str(one_run), "1", "--out", str(tmp_path / "my_act.py"), "--name", name)
    assert code == 2 and len(error_lines(err)) == 1 and "class name" in err, err
    assert not (tmp_path / "my_act.py").exists()


def test_c8_a_normal_class_name_still_exports(one_run, tmp_path):
    code, out, err = run_cli("export", str(one_run), "1", "--out", str(tmp_path / "my_act.py"), "--name", "MySwish")
    assert code == 0, err
    tree = ast.parse((tmp_path / "my_act.py").read_text())
    assert [n.name for n in tree.body if isinstance(n, ast.ClassDef)] == ["MySwish"]
    cls = export.load_module_class(tmp_path / "my_act.py", "MySwish")
    assert cls()(torch.ones(2)).shape == (2,)
