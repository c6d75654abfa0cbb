"""What travels to a cluster's workers for each kind of task (the runtime environment), and how a
worker finds the shipped copy of a task file. The real 2-node cluster is
``test_cluster_shipping.py`` (slow)."""

from __future__ import annotations

import hashlib
import json
import sys

from actsearch.evaluators.resolve import SHIPPED_VAR, shipped_copy
from actsearch.search.runner.shipping import EXCLUDES, runtime_env

TASK = "def fit(act, seed, report):\n    return 1.0\n"


def test_a_task_file_ships_its_directory_with_its_hash(tmp_path):
    folder = tmp_path / "proj"
    folder.mkdir()
    task = folder / "mytask.py"
    task.write_text(TASK)
    env = runtime_env(f"{task}:fit", run_dir=folder / "runs-here" / "one")
    assert env["py_modules"] == [str(folder.resolve())]
    assert set(EXCLUDES) <= set(env["excludes"]) and "/runs-here/one" in env["excludes"]
    shipped = json.loads(env["env_vars"][SHIPPED_VAR])
    assert shipped == {str(task.resolve()): {"dir": "proj", "file": "mytask.py",
                                             "sha256": hashlib.sha256(TASK.encode()).hexdigest()}}
    # A panel ships its members' code (once per directory); a run dir outside adds no exclude.
    other = folder / "second.py"
    other.write_text(TASK)
    env = runtime_env(f"panel:digits,{task}:fit,{other}:fit", run_dir=tmp_path / "elsewhere")
    assert env["py_modules"] == [str(folder.resolve())] and env["excludes"] == list(EXCLUDES)
    assert len(json.loads(env["env_vars"][SHIPPED_VAR])) == 2


def test_modules_ship_their_top_package_unless_installed(tmp_path, monkeypatch):
    package = tmp_path / "mypkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "tasks.py").write_text(TASK)
    (tmp_path / "single.py").write_text(TASK)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert runtime_env("mypkg.sub.tasks:fit") == {"py_modules": [str(package.resolve())],
                                                  "excludes": list(EXCLUDES)}
    assert runtime_env("single:fit")["py_modules"] == [str((tmp_path / "single.py").resolve())]
    for installed in ("sklearn.datasets:make_moons", "json:loads", "actsearch.evaluators.user:task"):
        assert runtime_env(installed) is None, installed
    for nothing in ("digits", "mnist1d", f"table:{tmp_path / 'scores.csv'}", "panel:digits,mnist1d"):
        assert runtime_env(nothing) is None, nothing


def test_a_worker_imports_the_shipped_copy_found_by_its_hash(tmp_path, monkeypatch):
    driver = tmp_path / "driver" / "proj" / "mytask.py"
    driver.parent.mkdir(parents=True)
    driver.write_text(TASK)
    unpacked = tmp_path / "ray_pkg"  # where Ray unpacks a py_modules entry: ENTRY/DIR/FILE on sys.path
    (unpacked / "proj").mkdir(parents=True)
    (unpacked / "proj" / "mytask.py").write_text(TASK)
    monkeypatch.setattr(sys, "path", [str(tmp_path / "nothing-here"), str(unpacked), *sys.path])
    assert shipped_copy(str(driver)) == str(driver)  # not on a cluster's worker: the path itself
    entry = {"dir": "proj", "file": "mytask.py", "sha256": hashlib.sha256(TASK.encode()).hexdigest()}
    monkeypatch.setenv(SHIPPED_VAR, json.dumps({str(driver): entry}))
    assert shipped_copy(str(driver)) == str((unpacked / "proj" / "mytask.py").resolve())
    assert shipped_copy(str(tmp_path / "other.py")) == str(tmp_path / "other.py")
    monkeypatch.setenv(SHIPPED_VAR, json.dumps({str(driver): {**entry, "sha256": "0" * 64}}))
    assert shipped_copy(str(driver)) == str(driver)  # a copy with other content is not the task
    monkeypatch.setenv(SHIPPED_VAR, "not json")
    assert shipped_copy(str(driver)) == str(driver)
    # The resolver loads the shipped copy when it is there.
    from actsearch.evaluators.resolve import load, parse_reference

    monkeypatch.setenv(SHIPPED_VAR, json.dumps({str(driver): entry}))
    (unpacked / "proj" / "mytask.py").write_text(TASK.replace("1.0", "2.0"))
    entry["sha256"] = hashlib.sha256(TASK.replace("1.0", "2.0").encode()).hexdigest()
    monkeypatch.setenv(SHIPPED_VAR, json.dumps({str(driver): entry}))
    task = load(parse_reference(f"{driver}:fit"))
    assert task(lambda: None, 0) == 2.0
