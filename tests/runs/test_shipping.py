"""What travels to a cluster's workers for each kind of task: an explicit list of files, sized
before anything is shipped, without environments, Ray's temp dirs, run stores, caches or secrets;
and how a worker finds the shipped copy of a task file. The real clusters are
``test_cluster_shipping.py`` and ``test_cluster_safety.py`` (slow)."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
import time
from pathlib import Path

import pytest

from actsearch.evaluators.resolve import SHIPPED_VAR, shipped_copy
from actsearch.search.infra.package import MAX_BYTES, MAX_FILES, Ignore, MiB, ShipError
from actsearch.search.infra.shipping import imports_neighbours, plan, runtime_env
from tests.helpers.cli import error_lines, run_cli

TASK = "def fit(act, seed, report):\n    return 1.0\n"
NEIGHBOUR = "from helper import VALUE\n\n\ndef fit(act, seed, report):\n    return VALUE\n"


def shipped(p) -> set[str]:
    return {item.rel for package in p.packages for item in package.items}


def messy(folder: Path) -> Path:
    """A task directory holding, beside the code, all that must never travel."""
    (folder / "pkg").mkdir(parents=True)
    (folder / "mytask.py").write_text(NEIGHBOUR)
    (folder / "helper.py").write_text("VALUE = 2.0\n")
    (folder / "tokenizer.py").write_text("")  # code, whatever its name
    (folder / "pkg" / "__init__.py").write_text("")
    (folder / "pkg" / "data.json").write_text("{}")
    for name, marker in (("tools", "pyvenv.cfg"), ("env2", "conda-meta")):  # environments under odd names
        (folder / name / "lib").mkdir(parents=True)
        (folder / name / marker).touch()
        (folder / name / "lib" / "big.py").write_bytes(b"#" * 100_000)
    ray = folder / "scratch"  # `ray start --temp-dir scratch`: what Ray writes there
    session = ray / "session_2025-01-02_03-04-05_123456_789"
    for sub in ("logs", "sockets", "runtime_resources"):
        (session / sub).mkdir(parents=True)
    (session / "runtime_resources" / "pkg.zip").write_bytes(b"z" * 1000)
    (ray / "ray_current_cluster").write_text("127.0.0.1:6379")
    (ray / "session_latest").symlink_to(session)
    moved = folder / "old" / "s1"  # a session dir under another name: logs/ and sockets/
    (moved / "logs").mkdir(parents=True)
    (moved / "sockets").mkdir()
    (moved / "x.py").touch()
    (folder / "runs" / "a").mkdir(parents=True)
    (folder / "runs" / "a" / "run.sqlite").touch()
    (folder / "runs" / "a" / "notes.py").touch()
    for cache in ("__pycache__", ".git", ".pytest_cache", ".ruff_cache", ".mypy_cache", ".hypothesis"):
        (folder / cache).mkdir()
        (folder / cache / "x.py").touch()
    (folder / "helper.cpython-311.pyc").touch()
    for secret in (".env", ".env.prod", "deploy.pem", "id_ed25519", "api_token.txt", ".netrc", "cert.p12", "tls.key"):
        (folder / secret).write_text("s3cret")
    outside = folder.parent / "elsewhere.py"
    outside.write_text("")
    (folder / "out.py").symlink_to(outside)  # a link out of the root
    (folder / "alias.py").symlink_to(folder / "helper.py")  # a link inside it: its content travels
    (folder / "linked").symlink_to(folder.parent)  # a link to a directory: never followed
    os.mkfifo(folder / "pipe")
    return folder / "mytask.py"


def test_a_task_file_that_imports_nothing_beside_it_ships_alone(tmp_path):
    folder = tmp_path / "proj"
    folder.mkdir()
    task = folder / "mytask.py"
    task.write_text("import torch\nfrom sklearn import datasets\n\n" + TASK)
    (folder / "other.py").write_text(TASK)
    (folder / "data.bin").write_bytes(b"d" * 1000)
    p = plan(f"{task}:fit")
    assert shipped(p) == {"mytask.py"}
    with runtime_env(p) as env:
        (entry,) = env["py_modules"]
        staged = Path(entry)
        assert staged.name == "proj" and sorted(os.listdir(staged)) == ["mytask.py"]
        assert folder not in staged.parents and not staged.is_relative_to(folder)
        assert json.loads(env["env_vars"][SHIPPED_VAR]) == {str(task): {
            "dir": "proj", "file": "mytask.py", "sha256": hashlib.sha256(task.read_bytes()).hexdigest()}}
    assert not staged.exists() and not staged.parent.parent.exists()  # the copy is gone
    # A panel ships its members' code (once per directory).
    other = folder / "second.py"
    other.write_text(TASK)
    p = plan(f"panel:digits,{task}:fit,{other}:fit")
    assert len(p.packages) == 1 and shipped(p) == {"mytask.py", "second.py"}
    with runtime_env(p) as env:
        assert len(json.loads(env["env_vars"][SHIPPED_VAR])) == 2


def test_imports_are_read_without_running_the_file(tmp_path):
    (tmp_path / "helper.py").touch()
    (tmp_path / "pkg").mkdir()
    cases = {"import helper": True, "from helper import x": True, "import pkg.sub as s": True,
             "from . import x": True, "def f():\n    import helper": True, "import torch, os": False,
             "raise SystemExit('ran')\nimport json": False, "this is not python": False}
    for source, want in cases.items():
        file = tmp_path / "t.py"
        file.write_text(source)
        assert imports_neighbours(file) is want, source
    (tmp_path / "t.py").write_text("import t")  # itself is no neighbour
    assert not imports_neighbours(tmp_path / "t.py")


def test_what_is_not_code_never_travels_and_secrets_are_named(tmp_path):
    """S-findings of the shipping round: a venv under an odd name, Ray's temp dir inside the task's
    directory, run stores, caches and a `.env` file are not in the package."""
    task = messy(tmp_path / "proj")
    p = plan(f"{task}:fit", run_dir=tmp_path / "proj" / "runs" / "b")
    assert shipped(p) == {"mytask.py", "helper.py", "tokenizer.py", "alias.py", "pkg/__init__.py", "pkg/data.json"}
    notes = p.notes()
    assert len(notes) == 2 and notes[0].startswith("note: shipping to the cluster")
    warning = notes[1]
    assert warning.startswith("warning: not shipping 8 file(s) that look like secrets") and ".env" in warning
    with runtime_env(p) as env:
        staged = Path(env["py_modules"][0])
        files = sorted(str(f.relative_to(staged)) for f in staged.rglob("*") if f.is_file())
        assert files == sorted(shipped(p))
        assert not any(f.is_symlink() for f in staged.rglob("*"))
        assert (staged / "alias.py").read_text() == "VALUE = 2.0\n"


def test_the_ignore_file_narrows_what_travels(tmp_path):
    rules = Ignore(["# data", "data/", "*.csv", "!keep.csv", "/top.txt", "deep/**/x.py", "", "a?c.py", "[bc]at.py"])
    assert rules("data", True) and not rules("data", False) and rules("sub/data", True)
    assert rules("t.csv", False) and rules("sub/t.csv", False) and not rules("keep.csv", False)
    assert rules("top.txt", False) and not rules("sub/top.txt", False)
    assert rules("deep/x.py", False) and rules("deep/a/b/x.py", False) and not rules("x.py", False)
    assert rules("abc.py", False) and not rules("a/c.py", False) and rules("cat.py", False) and not rules("hat.py", False)
    folder = tmp_path / "proj"
    (folder / "data").mkdir(parents=True)
    (folder / "mytask.py").write_text(NEIGHBOUR)
    (folder / "helper.py").write_text("VALUE = 1\n")
    (folder / "data" / "big.npy").write_bytes(b"0" * 1000)
    (folder / "t.csv").touch()
    (folder / ".actsearchignore").write_text("data/\n*.csv\nmytask.py\n")  # the task file goes anyway
    assert shipped(plan(f"{folder / 'mytask.py'}:fit")) == {"mytask.py", "helper.py"}
    (folder / ".actsearchignore").write_text("[z-a]\n")
    with pytest.raises(ShipError, match="line 1"):
        plan(f"{folder / 'mytask.py'}:fit")


def test_ship_names_what_travels(tmp_path):
    task = messy(tmp_path / "proj")
    folder = task.parent
    p = plan(f"{task}:fit", ship=[folder / "helper.py", folder / ".env", folder / "pkg"])
    assert shipped(p) == {"mytask.py", "helper.py", ".env", "pkg/__init__.py", "pkg/data.json"}  # named: it goes
    assert len(p.notes()) == 1
    for bad, says in ((folder / "nothing.py", "no such file"), (tmp_path, "not inside the task's directory"),
                      (folder / "tools", "a virtual environment"), (folder / "tools" / "lib" / "big.py", "virtual"),
                      (folder / "scratch", "Ray temp directory"), (folder / "pipe", "not a regular file")):
        with pytest.raises(ShipError, match=says):
            plan(f"{task}:fit", ship=[bad])
    with pytest.raises(ShipError, match="ships no code of its own"):
        plan("digits", ship=[folder / "helper.py"])


def test_modules_ship_their_top_package_unless_installed(tmp_path, monkeypatch):
    package = tmp_path / "mypkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "tasks.py").write_text(TASK)
    (package / "venv-x").mkdir()
    (package / "venv-x" / "pyvenv.cfg").touch()
    (package / "venv-x" / "a.py").touch()
    (package / ".env").touch()
    (tmp_path / "single.py").write_text(TASK)
    monkeypatch.syspath_prepend(str(tmp_path))
    p = plan("mypkg.sub.tasks:fit")
    assert shipped(p) == {"__init__.py", "sub/__init__.py", "sub/tasks.py"}
    with runtime_env(p) as env:
        assert Path(env["py_modules"][0]).name == "mypkg" and "env_vars" not in env
    p = plan("single:fit")
    with runtime_env(p) as env:
        assert [Path(e).name for e in env["py_modules"]] == ["single.py"] and Path(env["py_modules"][0]).is_file()
    for installed in ("sklearn.datasets:make_moons", "json:loads", "actsearch.evaluators.user:task"):
        assert plan(installed) is None, installed
    for nothing in ("digits", "mnist1d", f"table:{tmp_path / 'scores.csv'}", "panel:digits,mnist1d"):
        assert plan(nothing) is None, nothing


@pytest.mark.train
def test_the_size_limit_refuses_in_one_line_naming_the_largest_entries(tmp_path):
    folder = tmp_path / "proj"
    (folder / "data").mkdir(parents=True)
    (folder / "mytask.py").write_text(NEIGHBOUR)
    (folder / "helper.py").write_text("VALUE = 1\n")
    with open(folder / "data" / "huge.npy", "wb") as fh:  # sparse: 150 MiB counted, nothing written
        fh.truncate(MAX_BYTES + 50 * MiB)
    with open(folder / "weights.pt", "wb") as fh:
        fh.truncate(3 * MiB)
    with pytest.raises(ShipError) as err:
        plan(f"{folder / 'mytask.py'}:fit")
    text = str(err.value)
    assert "\n" not in text and "over the 100.0 MiB limit" in text
    assert "largest: data/ 150.0 MiB, weights.pt 3.0 MiB" in text and "--ship" in text and ".actsearchignore" in text
    assert shipped(plan(f"{folder / 'mytask.py'}:fit", ship=[folder / "helper.py"])) == {"mytask.py", "helper.py"}
    (folder / ".actsearchignore").write_text("/data/\n")
    assert "weights.pt" in shipped(plan(f"{folder / 'mytask.py'}:fit"))
    many = folder / "many"
    many.mkdir()
    for n in range(MAX_FILES):
        (many / f"{n}.txt").touch()
    with pytest.raises(ShipError, match="files limit"):
        plan(f"{folder / 'mytask.py'}:fit")


def test_a_file_that_grows_after_it_was_counted_is_refused(tmp_path):
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "mytask.py").write_text(NEIGHBOUR)
    (folder / "helper.py").write_text("VALUE = 1\n")
    p = plan(f"{folder / 'mytask.py'}:fit")
    with open(folder / "helper.py", "a") as fh:
        fh.write("# more\n")
    staged = []
    with pytest.raises(ShipError, match="grew while it was packaged"):
        with runtime_env(p) as env:
            staged.append(env)
    assert not staged


def test_a_worker_imports_the_shipped_copy_found_by_its_hash(tmp_path, monkeypatch):
    driver = tmp_path / "driver" / "proj" / "mytask.py"
    driver.parent.mkdir(parents=True)
    driver.write_text(TASK)
    p = plan(f"{driver}:fit")
    with runtime_env(p) as env:
        # Ray unpacks a py_modules directory DIR as ENTRY/DIR and puts ENTRY on sys.path: so here.
        entry = str(Path(env["py_modules"][0]).parent)
        monkeypatch.setattr(sys, "path", [str(tmp_path / "nothing-here"), entry, *sys.path])
        assert shipped_copy(str(driver)) == str(driver)  # not on a cluster's worker: the path itself
        monkeypatch.setenv(SHIPPED_VAR, env["env_vars"][SHIPPED_VAR])
        assert shipped_copy(str(driver)) == str(Path(entry, "proj", "mytask.py").resolve())
        assert shipped_copy(str(tmp_path / "other.py")) == str(tmp_path / "other.py")
        record = json.loads(env["env_vars"][SHIPPED_VAR])
        record[str(driver)]["sha256"] = "0" * 64
        monkeypatch.setenv(SHIPPED_VAR, json.dumps(record))
        assert shipped_copy(str(driver)) == str(driver)  # a copy with other content is not the task
        monkeypatch.setenv(SHIPPED_VAR, "not json")
        assert shipped_copy(str(driver)) == str(driver)


@pytest.fixture
def listener():
    """Something that listens on 127.0.0.1 but is not Ray (the address probe passes)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(4)
        yield f"127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.train
def test_the_cli_refuses_an_oversized_package_before_ray_or_the_store(tmp_path, monkeypatch, listener):
    """S-finding (size limit): one line, exit 2, before Ray starts and before the run directory exists."""
    import ray

    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "mytask.py").write_text(NEIGHBOUR)
    (folder / "helper.py").write_text("VALUE = 1\n")
    with open(folder / "model.bin", "wb") as fh:
        fh.truncate(2 * MAX_BYTES)
    monkeypatch.chdir(folder)
    run_dir = tmp_path / "runs" / "one"
    code, out, err = run_cli("search", "--address", listener, "--task", "mytask.py:fit", "--space", "quick",
                             "--searcher", "random", "--budget", "2", "--references", "", "--plain",
                             "--run-dir", str(run_dir))
    assert code == 2 and len(error_lines(err)) == 1 and "model.bin 200.0 MiB" in error_lines(err)[0], (code, err)
    assert "Traceback" not in err and not ray.is_initialized()
    assert not run_dir.exists() and not run_dir.parent.exists()
    # Sized so the package fits, the same listener is refused as not Ray, at once (no minutes of retries).
    (folder / "model.bin").unlink()
    began = time.monotonic()
    code, out, err = run_cli("search", "--address", listener, "--task", "mytask.py:fit", "--space", "quick",
                             "--searcher", "random", "--budget", "2", "--references", "", "--plain",
                             "--run-dir", str(run_dir))
    assert code == 2 and len(error_lines(err)) == 1 and "not a Ray head node" in err, (code, err)
    assert time.monotonic() - began < 30 and not ray.is_initialized()
    assert not run_dir.exists() and not run_dir.parent.exists()
    # --ship is for a cluster: refused (one line) for a search on this machine.
    code, out, err = run_cli("search", "--task", "mytask.py:fit", "--space", "quick", "--budget", "2",
                             "--ship", "helper.py", "--run-dir", str(run_dir))
    assert code == 2 and len(error_lines(err)) == 1 and "--ship" in err and not run_dir.exists()


def test_the_python_api_checks_ship_before_anything_runs(tmp_path):
    from actsearch import run_search

    for bad, says in ((42, "list of file or directory paths"), ([""], "list of file or directory paths"),
                      ("helper.py", "on this machine")):
        with pytest.raises(ShipError, match=says):
            run_search(space="quick", searcher="random", task="digits", budget=1, ship=bad, run_dir=tmp_path / "r")
    assert not (tmp_path / "r").exists()
