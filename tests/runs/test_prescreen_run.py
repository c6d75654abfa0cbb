"""The surrogate pre-screen inside a run: the surrogate's probe task, pre-screened proposals stored
``invalid`` without a trial (and ``--no-prescreen`` training them), predicted scores stored."""

from __future__ import annotations

import sys

import pytest

from actsearch.evaluators import get_task
from actsearch.results.store import SqliteStore
from actsearch.search.loop.trials import StudyEvent, TrialEvent, evaluate_trial
from actsearch.search.rundir.run import open_study
from actsearch.search.rundir.spec import SearchSpec, prepare, searcher_options
from actsearch.search.searchers.base import FINISHED, WAIT
from actsearch.search.space import load_space

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier


def _spec(**kw) -> SearchSpec:
    base = {"space": "quick", "searcher": "surrogate", "task": "digits", "budget": 3, "workers": 2,
            "task_overrides": {"steps": 20}, "references": ()}
    return SearchSpec(**{**base, **kw})


def test_the_surrogate_probes_the_runs_task():
    assert searcher_options(_spec(task_overrides={}))["task"] == "digits"
    task = get_task("digits", steps=20)
    assert searcher_options(_spec(), task)["task"] is task  # with its overrides
    assert searcher_options(_spec(task="table:/x.csv", task_overrides={}))["task"] == "mnist1d"  # no network
    assert searcher_options(_spec(searcher_options={"task": "xor"}))["task"] == "xor"  # the user's wins
    assert "task" not in searcher_options(_spec(searcher="random"))


# A space of three distinct functions on digits: x·exp(x) explodes at initialisation, the others pass.
EXPLODING = "x * exp(x)"


def _space_file(tmp_path):
    path = tmp_path / "three.toml"
    path.write_text('units = 1\nunary = ["x", "exp", "tanh"]\nbinary = ["mul"]\ngated = true\n')
    return path


def _cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """The real console entry point in-process (it reuses the module's local Ray)."""
    from actsearch.cli import main

    monkeypatch.setattr(sys, "argv", ["actsearch", *args])
    code = 0
    try:
        main()
    except SystemExit as exit_info:
        code = exit_info.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err


def _book(spec, run_dir):
    store = prepare(spec, run_dir)
    task = get_task(spec.task, **spec.task_overrides)
    return store, open_study(spec, store, task=task, space=load_space(spec.space))


def _done(study, config):
    outcome = evaluate_trial(config)
    study.complete(TrialEvent(config, outcome.result, outcome.result.status, outcome.canonical))


def test_a_rejected_proposal_is_stored_invalid_without_a_trial_and_not_counted(tmp_path):
    spec = _spec(space=str(_space_file(tmp_path)), searcher="exhaustive", budget=2, task_overrides={"steps": 5})
    store, book = _book(spec, tmp_path / "run")
    configs = [book.next_trial(), book.next_trial()]
    assert [c.expression for c in configs] == ["x * x", "x * tanh(x)"]  # x·exp(x), between them, never ran
    assert book.next_trial() is WAIT  # the budget (2 trainings) is handed out
    for config in configs:
        _done(book, config)
    assert book.next_trial() is FINISHED and book.finished
    rows = {r.expression: r for r in store.candidates(role="search")}
    bad = rows[EXPLODING]
    assert bad.status == "invalid" and bad.trial is None and bad.runs == [] and bad.step == 1
    assert bad.error.startswith("pre-screen: exploding signal at initialisation")
    assert store.count(role="search") == 2 and store.pending() == []


def test_the_surrogate_and_the_runs_prescreen_share_one_featurizer(tmp_path):
    spec = _spec(space=str(_space_file(tmp_path)), task_overrides={"steps": 5})
    store, book = _book(spec, tmp_path / "run")
    assert book.searcher.prescreen and book.searcher.featurizer.probe.name == "digits"
    for _ in range(3):
        config = book.next_trial()
        if config is FINISHED:
            break
        _done(book, config)
    assert book.next_trial() is FINISHED
    assert book.screen.featurizer.probe.name == "digits"
    rows = {r.expression: r for r in store.candidates(role="search")}
    assert rows[EXPLODING].status == "invalid" and rows[EXPLODING].error.startswith("pre-screen: exploding")
    assert store.count(role="search") == 2
    assert not _book(_spec(space="quick", prescreen=False), tmp_path / "off")[1].searcher.prescreen


def test_without_the_prescreen_the_exploding_candidate_is_handed_out_for_training(tmp_path):
    spec = _spec(space=str(_space_file(tmp_path)), searcher="exhaustive", prescreen=False)
    store, book = _book(spec, tmp_path / "run")
    assert [book.next_trial().expression for _ in range(3)] == ["x * x", EXPLODING, "x * tanh(x)"]
    assert book.screen is None and store.candidates() == []


def test_search_no_prescreen_trains_the_exploding_candidate_and_resume_keeps_it(local_ray, tmp_path, monkeypatch,
                                                                              capsys):
    run = str(tmp_path / "off")
    common = ["search", "--space", str(_space_file(tmp_path)), "--searcher", "exhaustive", "--task", "digits",
              "--steps", "20", "--references", "", "--plain", "--budget", "3", "--run-dir", run]
    code, out, err = _cli(monkeypatch, capsys, *common, "--no-prescreen")
    assert code == 0, err
    assert "[pre-screen]" not in out and "3/3 candidates evaluated" in out
    store = SqliteStore(run, readonly=True)
    trained = {r.expression: r for r in store.candidates(role="search")}[EXPLODING]
    assert trained.trained and trained.runs and not (trained.error or "").startswith("pre-screen")
    assert store.count(role="search") == 3 and store.meta()["spec"]["prescreen"] is False
    # A resumed run keeps its setting; `search` into the run directory again (with either setting)
    # points to `resume`, the one way to continue a run, and changes nothing.
    code, _, err = _cli(monkeypatch, capsys, "resume", run, "--plain")
    assert code == 0, err
    assert SqliteStore(run, readonly=True).meta()["spec"]["prescreen"] is False
    for setting in ("--no-prescreen", "--prescreen"):
        code, _, err = _cli(monkeypatch, capsys, *common, setting)
        assert code == 2 and f"continue it with `actsearch resume {run}`" in err and err.count("\n") == 1
    assert SqliteStore(run, readonly=True).meta()["spec"]["prescreen"] is False
    # The Python API's resume=True with another setting is another search.
    from actsearch.search.rundir.spec import RunDirError

    with pytest.raises(RunDirError, match=r"belongs to a different search \(prescreen"):
        prepare(_spec(space=str(_space_file(tmp_path)), searcher="exhaustive", task="digits", prescreen=True,
                      budget=3, references=(), task_overrides={"steps": 20}), run, resume=True)


def test_the_progress_view_counts_rejections_apart_from_trials():
    from actsearch.commands.search import Progress

    progress = Progress(3, [])
    event = StudyEvent(EXPLODING, "search", "invalid", 0.0, 0.0, evaluated=0, budget=3,
                       prescreen="pre-screen: exploding signal (...)")
    progress.add(event)
    assert (progress.screened, progress.done, progress.failures, progress.new) == (1, 0, 0, 0)
    assert progress.line(event) == f"[pre-screen] {EXPLODING}: exploding signal (...)"


def test_a_surrogate_proposal_stores_its_predicted_score(tmp_path):
    spec = _spec(space=str(_space_file(tmp_path)), searcher_options={"n_initial": 1}, task_overrides={"steps": 5})
    store, book = _book(spec, tmp_path / "run")
    first = book.next_trial()
    _done(book, first)
    second = book.next_trial()  # the forest's pick: its prediction travels with the pending trial
    pending = store.pending()[0].metrics
    assert isinstance(pending["predicted"], float) and pending["predicted_spread"] >= 0.0
    _done(book, second)
    rows = {r.id: r for r in store.candidates(role="search") if r.trained}
    assert "predicted" not in rows[first.key].metrics  # a random start: nothing predicted
    assert rows[second.key].metrics["predicted"] == pending["predicted"]
    assert rows[second.key].metrics["predicted_spread"] == pending["predicted_spread"]
