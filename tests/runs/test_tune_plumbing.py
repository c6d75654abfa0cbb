"""Ray plumbing without a search: address probing, stale-process cleanup, CLI errors."""

from __future__ import annotations

import socket
import sys
import time

import pytest

from actsearch.search.infra.cluster import AddressError, probe_address


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_probe_fails_fast_where_nothing_listens():
    start = time.monotonic()
    with pytest.raises(AddressError, match="no Ray head node answers"):
        probe_address(f"127.0.0.1:{_free_port()}", timeout=2)
    assert time.monotonic() - start < 5
    for bad in ("localhost", "host:port", ":6379", "ray://h:10001"):
        with pytest.raises(AddressError):
            probe_address(bad)


@pytest.mark.train
def test_probe_refuses_a_listener_that_is_not_ray():
    """A port that accepts but does not answer gRPC: one line at once, not ray.init's minutes of retries
    (a real head node is accepted in the cluster tests, tests/runs/test_cluster_*.py)."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        with pytest.raises(AddressError, match="not a Ray head node"):
            probe_address(f"127.0.0.1:{srv.getsockname()[1]}", timeout=2)


def _cli(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """Run the real console entry point in-process; returns (exit status, stderr)."""
    from actsearch.cli import main

    monkeypatch.setattr(sys, "argv", ["actsearch", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code, capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--space", "no-such-space", "--budget", "2"], "no space preset or file"),
    (["--space", "quick", "--searcher", "annealing", "--budget", "2"], "unknown searcher"),
    (["--space", "quick", "--task", "imagenet", "--budget", "2"], "unknown task"),
    (["--space", "quick", "--budget", "2", "--address", "127.0.0.1:{port}"], "no Ray head node answers"),
])
def test_search_user_errors_are_one_line(monkeypatch, capsys, tmp_path, args, message):
    args = [a.replace("{port}", str(_free_port())) for a in args]
    code, err = _cli(monkeypatch, capsys, "search", *args, "--run-dir", str(tmp_path / "run"))
    assert code == 2 and err.startswith("error: ") and message in err
    assert err.count("\n") == 1 and not (tmp_path / "run").exists()


def test_bad_toml_and_foreign_run_dir(monkeypatch, capsys, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("unary = [")
    code, err = _cli(monkeypatch, capsys, "search", "--space", str(bad), "--budget", "2", "--run-dir",
                     str(tmp_path / "r"))
    assert code == 2 and "bad TOML" in err and err.count("\n") == 1
    from actsearch.results.store import SqliteStore
    from actsearch.search.rundir.spec import SearchSpec, prepare

    prepare(SearchSpec(space="quick", searcher="random", task="digits"), tmp_path / "r").close()
    common = ["--searcher", "random", "--task", "digits", "--budget", "2", "--run-dir", str(tmp_path / "r")]
    for space in ("x-gated", "quick"):  # another search or the same one: `resume` is the way to continue
        code, err = _cli(monkeypatch, capsys, "search", "--space", space, *common)
        assert code == 2 and "already holds a search; continue it with `actsearch resume" in err
        assert err.count("\n") == 1
    code, err = _cli(monkeypatch, capsys, "search", "--space", "quick", *common, "--resume")
    assert code == 2 and "No such option: --resume" in err  # one way to resume
    code, err = _cli(monkeypatch, capsys, "resume", str(tmp_path / "nothing"))
    assert code == 2 and "nothing to resume" in err
    assert SqliteStore(tmp_path / "r", readonly=True).meta()["space"] == "quick"  # untouched
