"""Naming a task: FILE.py:NAME, module:NAME, entry points; bad references in one line; source
hashes and stable references; ``actsearch tasks``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from actsearch.cli import app
from actsearch.evaluators import get_task
from actsearch.evaluators.resolve import known_tasks, parse_reference, source_hash, stable_reference
from actsearch.evaluators.result import OK
from actsearch.evaluators.task import TaskError
from actsearch.evaluators.user import UserTask

runner = CliRunner()
TASK_FILE = '''
import actsearch

@actsearch.task("from-file", scale=1.0)
def task(act, seed, report, settings):
    return 0.25 * settings.scale

def plain(act, seed, report):
    return 0.75

number = 3
class Klass:
    pass
'''


@pytest.fixture()
def task_file(tmp_path: Path) -> Path:
    path = tmp_path / "my_tasks.py"
    path.write_text(TASK_FILE)
    return path


def test_file_reference_with_settings(task_file):
    task = get_task(f"{task_file}:task", scale="2")
    assert task.name == "from-file" and task.config.scale == 2.0
    assert task.evaluate_seed("relu", 0).score == 0.5
    plain = get_task(f"{task_file}:plain")
    assert isinstance(plain, UserTask) and plain.name == "plain" and plain.evaluate_seed("relu", 0).score == 0.75


def test_module_reference(tmp_path, monkeypatch):
    pkg = tmp_path / "mypkg_actsearch_test"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "tasks.py").write_text(TASK_FILE)
    monkeypatch.syspath_prepend(str(tmp_path))
    task = get_task("mypkg_actsearch_test.tasks:task")
    assert task.name == "from-file" and task.evaluate_seed("relu", 0).status == OK
    assert source_hash("mypkg_actsearch_test.tasks:task") == hashlib.sha256((pkg / "tasks.py").read_bytes()).hexdigest()


def test_entry_point_is_found_and_listed(tmp_path, monkeypatch):
    pkg = tmp_path / "eptasks_actsearch_test.py"
    pkg.write_text(TASK_FILE)
    dist = tmp_path / "eptasks_actsearch_test-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: eptasks-actsearch-test\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[actsearch.tasks]\nep-task = eptasks_actsearch_test:task\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    task = get_task("ep-task", scale=4)
    assert task.name == "from-file" and task.evaluate_seed("relu", 0).score == 1.0
    listed = {i.name: i for i in known_tasks()}
    assert "ep-task" in listed and "eptasks_actsearch_test:task" in listed["ep-task"].origin
    assert listed["ep-task"].settings == {"scale": 1.0}
    assert {"mnist1d", "digits", "table:FILE"} <= set(listed)


@pytest.mark.parametrize(("ref", "words"), [
    ("{dir}/missing.py:task", "no task file"),
    ("{file}:nothing", "has no 'nothing'; tasks there: task"),
    ("{file}:number", "is a int, not a task"),
    ("{file}:Klass", "is a class"),
    ("{file}:2bad", "expected FILE.py:NAME"),
    ("no_such_module_actsearch_x:task", "no module 'no_such_module_actsearch_x'"),
    ("not-a-task-name", "unknown task 'not-a-task-name'"),
    ("{bad}:task", "cannot load task file"),
])
def test_bad_references_are_one_line(ref, words, task_file, tmp_path):
    bad = tmp_path / "broken.py"
    bad.write_text("def task(:\n")
    text = ref.format(dir=tmp_path, file=task_file, bad=bad)
    with pytest.raises(TaskError, match=words) as info:
        get_task(text)
    assert "\n" not in str(info.value)
    out = runner.invoke(app, ["evaluate", "relu", "--task", text])
    assert isinstance(out.exception, TaskError) and "\n" not in str(out.exception)


def test_source_hash_and_stable_reference(task_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    digest = source_hash("my_tasks.py:task")
    assert digest == hashlib.sha256(task_file.read_bytes()).hexdigest()
    assert stable_reference("my_tasks.py:task") == f"{task_file.resolve()}:task"
    assert parse_reference("my_tasks.py:task").kind == "file"
    task_file.write_text(TASK_FILE + "\n# changed\n")
    assert source_hash("my_tasks.py:task") != digest
    assert source_hash("digits") is None and stable_reference("digits") == "digits"


def test_tasks_command_lists_and_describes(task_file):
    out = runner.invoke(app, ["tasks", "--json"])
    assert out.exit_code == 0, out.output
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert rows["digits"]["origin"] == "built-in" and rows["digits"]["settings"]["steps"] == 600
    out = runner.invoke(app, ["tasks", f"{task_file}:task", "--json"])
    assert out.exit_code == 0, out.output
    (row,) = json.loads(out.stdout)
    assert row["origin"] == f"file {task_file}" and row["settings"] == {"scale": 1.0}
    out = runner.invoke(app, ["tasks"])
    assert out.exit_code == 0 and "mnist1d" in out.stdout and "built-in" in out.stdout


def test_table_refuses_settings(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("expression,score\nx,0.5\n")
    with pytest.raises(TaskError, match="takes no settings"):
        get_task(f"table:{table}", steps=3)
