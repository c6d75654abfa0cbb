"""S2: resuming never imports code that only the run store names. A crafted store whose task is
``/elsewhere/evil.py:task`` (with that file's own sha256 as its source hash), a module such as
``this:x``, a panel with such a member or a surrogate's probe task is refused in one line, exit 2,
before anything is imported, unless the user names the same code (``--task``, ``task=``); then
it resumes. Real CLI, real SQLite, real (tiny, in-process) training."""

from __future__ import annotations

import hashlib
import sys

import pytest

import actsearch
from actsearch.errors import UserError
from actsearch.results.store import SqliteStore
from actsearch.search.rundir.spec import SearchSpec, prepare
from tests.helpers.cli import error_lines, run_cli

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

EVIL = '''
from pathlib import Path

Path({marker!r}).write_text("imported")


def task(act, seed, report):
    return 0.5
'''
TINY = '''
import torch


def fit(act, seed, report):
    """A few steps of fitting x -> relu(x) with a scaled candidate."""
    torch.manual_seed(seed)
    x = torch.linspace(-2, 2, 32).unsqueeze(1)
    scale = torch.ones(1, requires_grad=True)
    module = act()
    opt = torch.optim.SGD([scale, *module.parameters()], lr=0.05)
    for step in range(1, 4):
        loss = ((scale * module(x) - x.clamp(min=0)) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        report(step, -loss.item())
    return -loss.item()
'''


def _crafted(run_dir, task, options=None, source=None):
    """A run store that names ``task`` (as an attacker would edit it), no trial trained."""
    prepare(SearchSpec(space="quick", searcher="random", task="digits", budget=2, references=()), run_dir).close()
    with SqliteStore(run_dir) as store:
        spec = store.meta()["spec"]
        spec.update(task=task, searcher_options=options or {})
        if options:
            spec["searcher"] = "surrogate"
        store.init_run({"spec": spec, "task": task, "task_source": {"reference": task, "sha256": source}})
    return run_dir


@pytest.fixture
def evil(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    marker = tmp_path / "marker"
    path = elsewhere / "evil.py"
    path.write_text(EVIL.format(marker=str(marker)))
    return path, marker


def test_resume_does_not_import_the_file_a_store_names(tmp_path, evil):
    path, marker = evil
    ref = f"{path}:task"
    run_dir = _crafted(tmp_path / "run", ref, source=hashlib.sha256(path.read_bytes()).hexdigest())
    code, out, err = run_cli("resume", str(run_dir), "--plain")
    assert code == 2 and len(error_lines(err)) == 1 and "Traceback" not in err, err
    assert f"this run's task is the code at {ref}; resuming imports it: pass --task {ref} to confirm" in err
    assert not marker.exists()  # its import side effect never ran
    # Another task than the stored one is no confirmation either.
    code, _, err = run_cli("resume", str(run_dir), "--task", "digits", "--plain")
    assert code == 2 and "pass --task" in err and "--task digits is another task" in err and not marker.exists()


def test_resume_does_not_import_a_module_a_store_names(tmp_path):
    sys.modules.pop("this", None)
    run_dir = _crafted(tmp_path / "run", "this:x")
    code, out, err = run_cli("resume", str(run_dir), "--plain")
    assert code == 2 and "pass --task this:x to confirm" in err and len(error_lines(err)) == 1
    assert "Beautiful is better than ugly" not in out + err and "this" not in sys.modules


def test_resume_does_not_import_a_panel_member_or_a_probe_task_a_store_names(tmp_path, evil):
    path, marker = evil
    panel = f"panel:digits,{path}:task"
    code, _, err = run_cli("resume", str(_crafted(tmp_path / "a", panel)), "--plain")
    assert code == 2 and "pass --task" in err and len(error_lines(err)) == 1 and not marker.exists()
    probe = _crafted(tmp_path / "b", "digits", options={"task": f"{path}:task"})
    code, _, err = run_cli("resume", str(probe), "--plain")
    assert code == 2 and "searcher option task=" in err and len(error_lines(err)) == 1 and not marker.exists()


def test_the_python_api_resumes_user_code_only_when_task_names_it(tmp_path, evil):
    path, marker = evil
    run_dir = _crafted(tmp_path / "run", f"{path}:task")
    with pytest.raises(UserError, match="resuming imports it: pass task="):
        actsearch.run_search(space="quick", searcher="random", budget=2, run_dir=run_dir, resume=True)
    assert not marker.exists()

    # A real run of a tiny user task: the same reference (given relative, stored absolute) resumes it.
    (tmp_path / "tiny.py").write_text(TINY)
    ours = tmp_path / "ours"
    first = dict(space="quick", searcher="random", task=f"{tmp_path / 'tiny.py'}:fit", references=(), seed=1,
                 run_dir=ours, executor="inprocess")
    with actsearch.run_search(budget=1, **first):
        pass
    with pytest.raises(UserError, match="task digits is another task"):
        actsearch.run_search(**{**first, "task": "digits"}, budget=2, resume=True)
    with actsearch.run_search(budget=2, resume=True, **first) as run:
        assert len([r for r in run.records() if r.trained and r.role == "search"]) == 2
