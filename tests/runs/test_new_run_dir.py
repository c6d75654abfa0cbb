"""A new run that fails before its first trial leaves its directory as it found it (the finding 'a
failed cluster start leaves nothing behind'; the real failed join is ``test_cluster_safety.py``,
slow): what the run created goes — its store, lock, space copy, and directories that did not
exist — and nothing else is touched."""

from __future__ import annotations

from actsearch.search.rundir.run import NewRunDir
from actsearch.search.rundir.spec import SearchSpec, prepare

SPEC = SearchSpec(space="quick", searcher="random", task="digits", budget=1)


def _store_made(run_dir) -> None:
    prepare(SPEC, run_dir).close()  # the real SQLite store a new run writes before it starts trials
    assert (run_dir / "run.sqlite").is_file()


def test_a_directory_the_run_created_is_removed_with_the_parents_it_created(tmp_path):
    run_dir = tmp_path / "runs" / "deep" / "one"
    fresh = NewRunDir(run_dir)
    _store_made(run_dir)
    fresh.discard()
    assert not (tmp_path / "runs").exists() and tmp_path.is_dir()
    _store_made(run_dir)  # the same directory can be used again (no "already holds a search")


def test_an_existing_directory_keeps_what_was_there(tmp_path):
    empty, used = tmp_path / "empty", tmp_path / "used"
    empty.mkdir()
    (used / "sub").mkdir(parents=True)
    (used / "notes.txt").write_text("mine")
    for folder in (empty, used):
        fresh = NewRunDir(folder)
        _store_made(folder)
        (folder / "space.toml").write_text("")  # the run's copy of its space
        fresh.discard()
    assert empty.is_dir() and not list(empty.iterdir())
    assert sorted(p.name for p in used.iterdir()) == ["notes.txt", "sub"] and (used / "notes.txt").read_text() == "mine"


def test_a_parent_that_gained_other_files_is_kept(tmp_path):
    run_dir = tmp_path / "runs" / "one"
    fresh = NewRunDir(run_dir)
    _store_made(run_dir)
    (tmp_path / "runs" / "other").mkdir()  # another run started beside it meanwhile
    fresh.discard()
    assert not run_dir.exists() and (tmp_path / "runs" / "other").is_dir()
