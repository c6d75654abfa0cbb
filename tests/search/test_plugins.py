"""Searchers and spaces as extension points: a searcher registered from Python or installed by a
package (an ``actsearch.searchers`` entry point) runs by name, through the CLI too; ``run_search``
takes a Searcher, a Searcher class or a Space object, and a run directory records each so that a
resume rebuilds it, or refuses in one line what it could not rebuild. The installed package is
written into a temporary directory (its ``dist-info`` with ``entry_points.txt``), nothing is
downloaded; and the searcher contract suite runs on its searcher unchanged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import test_searcher_contract as contract

import actsearch
from actsearch.errors import UserError
from actsearch.search.rundir.spec import SPACE_COPY, RunDirError, spec_from_store
from actsearch.search.searchers import (
    SearcherError,
    make_searcher,
    recorded_name,
    register_searcher,
    searcher_class,
    searcher_names,
)
from actsearch.search.space.core import Space, SpaceError, _prim
from actsearch.search.space.files import load_space, space_from_dict, space_toml

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

TINY = {"steps": 5}


def tiny_space_dict() -> dict:
    """The search tests' tiny space (``conftest.tiny_space``) as a table."""
    return {"units": 1, "unary": ["x", "neg", "sin", "tanh"], "binary": ["add", "sub", "max"]}

PACKAGE = '''
"""A searcher of another package: the space backwards from the candidate the seed names."""
import actsearch


class Backwards(actsearch.Searcher):
    def __init__(self, space, *, seed=0):
        super().__init__()
        self.space, self.start, self.next = space, seed % space.raw_size, 0

    def ask(self, proposal_id):
        if self.next >= self.space.raw_size:
            return actsearch.FINISHED
        cand = self.space.at((self.start - self.next) % self.space.raw_size)
        self.next += 1
        text, params = self.space.to_text(cand)
        return actsearch.Proposal(text, params, tokens=self.space.to_tokens(cand), origin="backwards")

    def tell(self, proposal_id, outcome):
        pass

    def state(self):
        return {"next": self.next}

    def load_state(self, state):
        self.next = int(state["next"])


class Other(Backwards):
    name = "other"
'''


@pytest.fixture(scope="module")
def package_dir(tmp_path_factory):
    """A directory holding the package ``mysearch`` as pip would install it, with its entry point."""
    root = tmp_path_factory.mktemp("site")
    (root / "mysearch").mkdir()
    (root / "mysearch" / "__init__.py").write_text(PACKAGE)
    info = root / "mysearch-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mysearch\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[actsearch.searchers]\nbackwards = mysearch:Backwards\n")
    return root


@pytest.fixture
def installed(package_dir, monkeypatch):
    """``mysearch`` installed for this test (on ``sys.path``); the module itself."""
    monkeypatch.syspath_prepend(str(package_dir))
    import mysearch

    yield mysearch
    sys.modules.pop("mysearch", None)


def walk(space, seed=0):
    """The candidates the Backwards searcher proposes, in order."""
    return [space.at((seed - i) % space.raw_size) for i in range(space.raw_size)]


def trained(run):
    return [r for r in run.records(role="search") if r.trained]


def proposed(run):
    """The search rows' texts in storage order: one row per proposal (trained, an alias or trivial)."""
    return [r.expression for r in run.records(role="search")]


def walked(run, space, seed, n):
    """Whether the run's rows are the Backwards searcher's first proposals in its order (each new
    fingerprint in turn; an alias of a trivial candidate gets no row of its own), ``n`` trained."""
    texts = [space.to_text(c)[0] for c in walk(space, seed)]
    order = [texts.index(text) for text in proposed(run)]
    fingerprints = list(dict.fromkeys(r.fingerprint for r in run.records(role="search")))
    firsts = list(dict.fromkeys(space.activation(c).fingerprint for c in walk(space, seed)))
    return order == sorted(order) and fingerprints == firsts[:len(fingerprints)] and len(trained(run)) == n


# -- the registry ------------------------------------------------------------------------------------------
def test_an_installed_searcher_is_found_by_name_listed_and_recorded_by_name(installed):
    assert "backwards" in searcher_names() and searcher_class("backwards") is installed.Backwards
    assert recorded_name(installed.Backwards) == "backwards" == recorded_name("backwards")
    assert recorded_name(installed.Other) == "mysearch:Other"  # a class of a module, not an entry point
    assert searcher_class("mysearch:Other") is installed.Other
    space = space_from_dict(tiny_space_dict(), name="tiny")
    assert make_searcher("backwards", space).name == "backwards"  # the name it was made by
    assert make_searcher("mysearch:Other", space).name == "other"  # a class's own name is kept
    with pytest.raises(SearcherError, match=r"unknown searcher 'nope'; valid: .*surrogate, backwards"):
        make_searcher("nope", space)


def test_register_searcher_by_class_decorator_and_reference():
    space = space_from_dict(tiny_space_dict(), name="tiny")

    @register_searcher("walk-by-decorator")
    class Walk(actsearch.Searcher):
        def __init__(self, space, *, seed=0, step=1):
            super().__init__()

        def ask(self, proposal_id):
            return actsearch.FINISHED

        def tell(self, proposal_id, outcome):
            pass

        def state(self):
            return {}

        def load_state(self, state):
            pass

    assert searcher_class("walk-by-decorator") is Walk and "walk-by-decorator" in searcher_names()
    assert make_searcher("walk-by-decorator", space, step=2).name == "walk-by-decorator"
    with pytest.raises(SearcherError, match="no_such"):
        make_searcher("walk-by-decorator", space, no_such=1)
    assert recorded_name("walk-by-decorator") is None  # defined in a function: another process cannot import it
    register_searcher("random-by-reference", "actsearch.search.searchers.random:RandomSearch")
    assert type(make_searcher("random-by-reference", space)).__name__ == "RandomSearch"
    assert recorded_name("random-by-reference") == "random"  # the class's own, built-in name
    for bad in (lambda: register_searcher("random", Walk), lambda: register_searcher("a:b", Walk),
                lambda: register_searcher("mine", dict), lambda: register_searcher("mine", "not a reference"),
                lambda: searcher_class("no.such.module:Class"), lambda: searcher_class("actsearch:NoSuchClass"),
                lambda: searcher_class(42)):
        with pytest.raises(SearcherError):
            bad()


# -- the contract suite, reused for a searcher of another package ------------------------------------------
@pytest.mark.usefixtures("installed")
@pytest.mark.parametrize("name", ["backwards"])
class TestContractOnAnInstalledSearcher:
    test_deterministic_per_seed = staticmethod(contract.test_deterministic_per_seed)
    test_covers_the_space = staticmethod(
        contract.test_never_repeats_a_fingerprint_and_finishes_covering_the_space)
    test_failures = staticmethod(contract.test_failures_and_non_finite_scores_are_handled)
    test_restore = staticmethod(contract.test_restore_mid_run_gives_the_same_next_suggestions)
    test_waits = staticmethod(contract.test_waits_only_while_trials_run_and_resumes)
    test_unknown = staticmethod(contract.test_unknown_names_and_options_are_user_errors)


# -- run_search with objects -------------------------------------------------------------------------------
def test_a_searcher_object_and_a_space_object_run_in_memory():
    class Local(actsearch.Searcher):  # defined here: a run directory could not rebuild it, memory can
        def __init__(self, space, *, seed=0):
            super().__init__()
            self.space, self.at = space, 0

        def ask(self, proposal_id):
            if self.at >= self.space.raw_size:
                return actsearch.FINISHED
            text, params = self.space.to_text(self.space.at(self.at))
            self.at += 1
            return actsearch.Proposal(text, params)

        def tell(self, proposal_id, outcome):
            pass

        def state(self):
            return {"at": self.at}

        def load_state(self, state):
            self.at = state["at"]

    space = space_from_dict(tiny_space_dict(), name="tiny")
    run = actsearch.run_search(space=space, searcher=Local(space), task="digits", budget=3, settings=TINY,
                               references=(), prescreen=False)
    rows = trained(run)
    label = f"{__name__}:{Local.__qualname__}"
    assert run.meta["spec"]["searcher"] == label and run.meta["spec"]["space"] == "<Space tiny>"
    assert len(rows) == 3 and {r.searcher for r in rows} == {label}
    texts = [space.to_text(c)[0] for c in space.enumerate()]
    assert proposed(run) == texts[:len(proposed(run))]
    by_class = actsearch.run_search(space=space, searcher=Local, task="digits", budget=2, settings=TINY,
                                    references=(), prescreen=False)
    assert proposed(by_class) == texts[:len(proposed(by_class))] and len(trained(by_class)) == 2
    with pytest.raises(UserError, match="already built"):
        actsearch.run_search(space=space, searcher=Local(space), options={"x": 1}, task="digits", budget=1)
    with pytest.raises(UserError, match="searcher must be a name, a Searcher class or a Searcher"):
        actsearch.run_search(space=space, searcher=object(), task="digits", budget=1)


def test_a_run_directory_refuses_what_a_resume_could_not_rebuild(tmp_path):
    class Local(actsearch.Searcher):
        def __init__(self, space, *, seed=0):
            super().__init__()

    odd = Space("odd", unary=(_prim("x", "{0}"), _prim("triple", "3 * {0}")), binary=load_space("quick").binary)
    assert space_toml(odd) is None  # a primitive outside the grammar's tables: no file says it
    register_searcher("local-for-refusal", Local)
    for kwargs, error, words in (({"searcher": Local}, SearcherError, "resume could not import"),
                                 ({"searcher": "local-for-refusal"}, SearcherError, "another process cannot import"),
                                 ({"space": odd}, SpaceError, "cannot be saved")):
        given = {"space": "quick", "searcher": "random", **kwargs}
        with pytest.raises(error, match=words):
            actsearch.run_search(**given, task="digits", budget=1, run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_a_run_directory_records_a_space_object_and_an_installed_class_and_resumes(installed, tmp_path):
    from actsearch.search.rundir.run import run as run_spec

    space = space_from_dict({**tiny_space_dict(), "primitives": {"gauss2": "exp(-2 * x^2)"}}, name="tiny")
    run_dir = tmp_path / "run"
    with actsearch.run_search(space=space, searcher=installed.Backwards, task="digits", budget=2, settings=TINY,
                              references=(), prescreen=False, seed=5, run_dir=run_dir) as run:
        spec = run.meta["spec"]
        assert spec["searcher"] == "backwards" and spec["space"] == str(run_dir.resolve() / SPACE_COPY)
        assert walked(run, space, 5, 2)
        assert {r.searcher for r in trained(run)} == {"backwards"}
    assert (run_dir / SPACE_COPY).read_text() == space_toml(space)
    # what `actsearch resume` does (here in process): the stored spec, the copy of the space
    stored = spec_from_store(run_dir)
    stored.budget = 3
    run_spec(stored, run_dir, resume=True, executor="inprocess")
    with actsearch.open_run(run_dir) as run:
        assert walked(run, space, 5, 3)
    with actsearch.run_search(space=space, searcher="backwards", task="digits", budget=4, settings=TINY,
                              references=(), prescreen=False, seed=5, run_dir=run_dir, resume=True) as run:
        assert walked(run, space, 5, 4)
    other = space_from_dict(tiny_space_dict(), name="tiny")
    with pytest.raises(RunDirError, match="different search"):
        actsearch.run_search(space=other, searcher="backwards", task="digits", budget=5, settings=TINY,
                             references=(), prescreen=False, seed=5, run_dir=run_dir, resume=True)


def test_a_space_loaded_from_a_preset_or_file_is_recorded_by_that_name(tmp_path):
    preset = load_space("quick")
    run = actsearch.run_search(space=preset, searcher="random", task="digits", budget=1, settings=TINY,
                               references=(), run_dir=tmp_path / "a")
    with run:
        assert run.meta["spec"]["space"] == "quick" and not (tmp_path / "a" / SPACE_COPY).exists()
    (tmp_path / "mine.toml").write_text(space_toml(load_space("quick")))
    run = actsearch.run_search(space=load_space(tmp_path / "mine.toml"), searcher="random", task="digits", budget=1,
                               settings=TINY, references=(), run_dir=tmp_path / "b")
    with run:
        assert run.meta["spec"]["space"] == str(tmp_path / "mine.toml")
    assert (tmp_path / "b" / SPACE_COPY).read_text() == (tmp_path / "mine.toml").read_text()


def test_a_study_takes_a_searcher_by_name_and_a_task_object(tmp_path, monkeypatch):
    (tmp_path / "study_tasks.py").write_text("import actsearch\n\n\n@actsearch.task('study-loop', steps=2)\n"
                                             "def loop(act, seed, report, settings):\n    return 0.5\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import study_tasks

    study = actsearch.Study(actsearch.open_store(None), task=study_tasks.loop, searcher="random", space="quick",
                            seed=3, budget=2)
    assert study.task == "study_tasks:loop" and study.name == "random"
    first = study.next_trial()
    assert first.expression == make_searcher("random", "quick", seed=3).ask(0).expression
    with pytest.raises(UserError, match="needs space="):
        actsearch.Study(actsearch.open_store(None), task="digits", searcher="random", budget=2)
    sys.modules.pop("study_tasks", None)


# -- through the CLI ---------------------------------------------------------------------------------------
def _cli(package_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0",
           "PYTHONPATH": os.pathsep.join([str(package_dir), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.run([sys.executable, "-m", "actsearch.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=env)
    if check:
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


def test_the_cli_lists_an_installed_searcher_and_names_it_among_the_valid_ones(package_dir, tmp_path):
    listed = _cli(package_dir, "searchers").stdout
    assert "backwards" in listed and "mysearch:Backwards (mysearch)" in listed and "evolution" in listed
    bad = _cli(package_dir, "search", "--searcher", "nope", "--space", "quick", "--task", "digits", "--budget", "1",
               "--run-dir", tmp_path / "run", check=False)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1, bad.stderr
    assert bad.stderr.startswith("error: unknown searcher 'nope'") and "backwards" in bad.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_the_cli_runs_an_installed_searcher_by_name_on_ray(package_dir, tmp_path):
    run_dir = tmp_path / "run"
    _cli(package_dir, "search", "--searcher", "backwards", "--seed", "7", "--space", "quick", "--task", "digits",
         "--budget", "3", "--seeds", "1", "--steps", "5", "--workers", "1", "--references", "", "--no-prescreen",
         "--run-dir", run_dir, "--plain")
    rows = json.loads(_cli(package_dir, "leaderboard", run_dir, "--format", "json", "--all").stdout)
    with actsearch.open_run(run_dir) as run:
        assert run.meta["spec"]["searcher"] == "backwards"
        done = trained(run)
        assert {r.searcher for r in done} == {"backwards"}
        assert walked(run, load_space("quick"), 7, 3)
    assert len([r for r in rows if r["role"] == "search" and r["rank"]]) == 3
