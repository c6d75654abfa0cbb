"""A run records its task's stable reference and source hash; ``resume`` refuses a task whose source
changed (one line, exit 2) unless ``--force``, and the fallback probe is said in the run's settings.
Real CLI, real Ray (the module's local one), real SQLite, real training of a user's task file."""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path

import pytest

from actsearch.results.store import SqliteStore
from actsearch.search.rundir.run import run
from actsearch.search.rundir.spec import SearchSpec, spec_from_store
from tests.helpers.cli import error_lines, run_cli

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TASK = '''
import os

import torch


def fit(act, seed, report):
    """Fit relu on [-2, 2] with a scaled candidate: score = minus the mean squared error."""
    torch.manual_seed(seed)
    x = torch.linspace(-2, 2, 64).unsqueeze(1)
    scale = torch.ones(1, requires_grad=True)
    module = act()
    opt = torch.optim.SGD([scale, *module.parameters()], lr=0.05)
    for step in range(1, 11):
        loss = ((scale * module(x) - x.clamp(min=0)) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        report(step, -loss.item())
    return {"score": -loss.item(), "file": __file__, "pid": os.getpid()}
'''


def _meta(run):
    with SqliteStore(run, readonly=True) as store:
        return store.meta()


def _trained(run):
    with SqliteStore(run, readonly=True) as store:
        return [r for r in store.candidates(role="search") if r.trained]


def _spec(budget, run_dir=None):
    """The search (the stored one, as ``actsearch resume`` reads it, when ``run_dir``) with ``budget``."""
    if run_dir is not None:
        return replace(spec_from_store(run_dir), budget=budget)
    return SearchSpec(space="quick", searcher="random", task="mytask.py:fit", budget=budget, workers=1,
                      references=())


def test_resume_refuses_a_changed_task_source_unless_forced(local_ray, tmp_path, monkeypatch):
    task_file = tmp_path / "mytask.py"
    task_file.write_text(TASK)
    run_dir = tmp_path / "run"
    monkeypatch.chdir(tmp_path)  # named relative to the current directory, stored absolute
    run(_spec(2), run_dir, executor="inprocess")
    meta = _meta(run_dir)
    reference = f"{task_file.resolve()}:fit"
    assert meta["task_source"] == {"reference": reference,
                                   "sha256": hashlib.sha256(task_file.read_bytes()).hexdigest()}
    assert meta["spec"]["task"] == reference and meta["task"] == reference
    # A full-control task without probe=: the pre-screen's Gaussian fallback is in the settings.
    assert meta["probe"]["kind"] == "gaussian" and meta["probe"]["used_by"] == ["pre-screen"]
    assert "fallback" in meta["probe"]["note"]
    assert len(_trained(run_dir)) == 2

    # Unchanged (and from another directory): resumes.
    monkeypatch.chdir(run_dir)
    run(_spec(3, run_dir), run_dir, resume=True, executor="inprocess")
    assert len(_trained(run_dir)) == 3

    # Not named by the user: the CLI refuses to import the code the store names (S2), in one line.
    code, out, err = run_cli("resume", str(run_dir), "--budget", "4", "--plain")
    assert code == 2 and f"pass --task {reference} to confirm" in err and len(error_lines(err)) == 1, err

    # Changed: refused in one line, nothing run, nothing recorded.
    task_file.write_text(TASK.replace("range(1, 11)", "range(1, 9)"))
    code, out, err = run_cli("resume", str(run_dir), "--budget", "4", "--plain", "--task", reference)
    assert code == 2 and err.count("\n") == 1, err
    assert error_lines(err) and "changed since the run started" in err and "--force" in err
    assert len(_trained(run_dir)) == 3 and "task_source_changes" not in _meta(run_dir)

    # Forced (the CLI, on the module's Ray): resumes with the new source and says so in the metadata.
    code, out, err = run_cli("resume", str(run_dir), "--budget", "4", "--plain", "--force",
                             "--task", f"{os.path.relpath(task_file)}:fit")  # relative: the same code, canonicalised
    assert code == 0, err[-2000:]
    assert len(_trained(run_dir)) == 4
    meta = _meta(run_dir)
    new = hashlib.sha256(task_file.read_bytes()).hexdigest()
    assert meta["task_source"]["sha256"] == new
    assert [(c["from"], c["to"]) for c in meta["task_source_changes"]] == [
        (hashlib.sha256(TASK.encode()).hexdigest(), new)]
    # The trials ran the driver's file (the embedded Ray shares this filesystem: nothing shipped).
    files = {run_["metrics"].get("file") for r in _trained(run_dir) for run_ in r.runs}
    assert files == {str(task_file.resolve())}, files

    # And then, unchanged again: resumes without --force.
    run(_spec(5, run_dir), run_dir, resume=True, executor="inprocess")
    assert len(_trained(run_dir)) == 5


def test_resume_checks_a_changed_table_too(tmp_path):
    from actsearch.search.rundir.source import TaskSource, TaskSourceChanged, check_resume

    table = tmp_path / "scores.csv"
    table.write_text("expression,score\nrelu,0.5\n")
    before = TaskSource.of(f"table:{os.path.relpath(table)}")
    assert before.reference == f"table:{table.resolve()}"
    table.write_text("expression,score\nrelu,0.6\n")
    after = TaskSource.of(f"table:{table}")
    try:
        check_resume(before, after, force=False)
        raise AssertionError("a changed table was not refused")
    except TaskSourceChanged as err:
        assert "--force" in str(err) and "\n" not in str(err)
    assert check_resume(before, after, force=True) is True
    assert check_resume(after, after, force=False) is False
    assert TaskSource.of("digits") == TaskSource("digits", None)  # built-in: actsearch's own code


def test_the_probe_a_run_uses_is_in_its_settings(tmp_path):
    from actsearch.evaluators import get_task
    from actsearch.search.rundir.spec import probe_settings

    (tmp_path / "plain.py").write_text(TASK)
    plain = f"{tmp_path / 'plain.py'}:fit"
    own = SearchSpec(space="quick", task=f"{EXAMPLES}/own_loop.py:task", searcher="surrogate")
    assert probe_settings(own, get_task(own.task)) == {"task": own.task, "kind": "task",
                                                       "used_by": ["pre-screen", "surrogate"]}
    cnn = SearchSpec(space="quick", task=f"{EXAMPLES}/digits_cnn.py:task", prescreen=False)
    assert probe_settings(cnn, get_task(cnn.task))["kind"] == "task" and probe_settings(cnn)["used_by"] == []
    fallback = probe_settings(SearchSpec(space="quick", task=plain), get_task(plain))
    assert fallback["kind"] == "gaussian" and "Gaussian" in fallback["note"]
    replay = probe_settings(SearchSpec(space="quick", task=f"table:{tmp_path / 'scores.csv'}", prescreen=True))
    assert replay["task"] == "mnist1d" and replay["kind"] == "task" and replay["used_by"] == ["pre-screen"]
