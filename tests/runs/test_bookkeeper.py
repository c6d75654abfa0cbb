"""The run's bookkeeping without Ray: order of trials, pending + state, budget, resume, full disk.

Trials are evaluated in this process by the trainable's own function (``evaluate_config``: real
training on digits, a few steps), and their results fed back as Tune would.
"""

from __future__ import annotations

from actsearch.results.store import SqliteStore, RunStoreError
from actsearch.search.bookkeeper import Bookkeeper
from actsearch.search.runner.spec import SearchSpec, prepare
from actsearch.search.searchers import make_searcher
from actsearch.search.searchers.base import FINISHED, WAIT
from actsearch.search.runner.ray_tune import evaluate_config


def _spec(**kw) -> SearchSpec:
    base = {"space": "quick", "searcher": "random", "task": "digits", "budget": 4, "workers": 2,
            "task_overrides": {"steps": 5}, "references": ("relu",)}
    return SearchSpec(**{**base, **kw})


def _book(spec, run_dir, resume=False):
    store = prepare(spec, run_dir, resume=resume)
    searcher = make_searcher(spec.searcher, spec.space, seed=spec.seed)
    state = store.load_state(f"searcher:{spec.searcher}")
    if state is not None:
        searcher.load_state(state)
    return store, Bookkeeper(store, spec, searcher)


def test_references_first_then_proposals_up_to_the_budget(tmp_path):
    store, book = _book(_spec(), tmp_path)
    ref = book.next_config()
    assert ref["role"] == "reference" and ref["library"] == "relu" and ref["fingerprint"] == "library:relu"
    configs = [book.next_config() for _ in range(4)]
    assert all(c["role"] == "search" for c in configs)
    assert book.next_config() is WAIT  # budget handed out, trials still running
    assert [p["trial_id"] for p in store.pending()] == [c["trial_id"] for c in configs]
    for config in [ref, *configs]:
        book.complete(config, evaluate_config(config), error=False, retries=0)
    assert book.next_config() is FINISHED and book.finished
    rows = store.candidates()
    assert store.count(role="search") == 4 and store.count(role="reference") == 1 and store.pending() == []
    assert all(r.runs and r.seeds == [0] for r in rows if r.trial_id)


def test_resume_reruns_pending_and_never_repeats_a_stored_fingerprint(tmp_path):
    store, book = _book(_spec(), tmp_path)
    _ref, a, b = book.next_config(), book.next_config(), book.next_config()
    book.complete(a, evaluate_config(a), error=False, retries=0)
    store.close()  # the driver dies here: b and relu were handed out, never stored
    store, book = _book(_spec(), tmp_path, resume=True)
    first = book.next_config()
    assert first["role"] == "reference"  # relu again: it was never stored
    rerun = book.next_config()
    assert rerun["trial_id"] == b["trial_id"] and rerun["fingerprint"] == b["fingerprint"]
    rest = [book.next_config() for _ in range(2)]
    assert book.next_config() is WAIT
    for config in [first, rerun, *rest]:
        book.complete(config, evaluate_config(config), error=False, retries=0)
    assert book.next_config() is FINISHED
    rows = [r for r in store.candidates(role="search") if r.trial_id]
    assert len(rows) == 4 and len({r.fingerprint for r in rows}) == 4 and a["fingerprint"] in {r.fingerprint for r in rows}


def test_failed_and_stopped_trials_are_results(tmp_path):
    store, book = _book(_spec(references=()), tmp_path)
    crashed, stopped = book.next_config(), book.next_config()
    book.complete(crashed, None, error=True, retries=2)
    book.complete(stopped, {"score": 0.25, "iteration": 3}, error=False, retries=0)  # ASHA stopped it
    rows = {r.trial_id: r for r in store.candidates()}
    assert rows[crashed["trial_id"]].status == "error" and rows[crashed["trial_id"]].retries == 2
    assert rows[stopped["trial_id"]].status == "stopped" and rows[stopped["trial_id"]].score == 0.25


def test_full_disk_ends_the_run_and_keeps_what_was_stored(tmp_path):
    store, book = _book(_spec(references=(), budget=40), tmp_path)
    first = book.next_config()
    book.complete(first, evaluate_config(first), error=False, retries=0)
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count={pages}")  # the disk is full from now on
    for _ in range(40):
        config = book.next_config()
        if config is FINISHED:
            break
        book.complete(config, evaluate_config(config), error=False, retries=0)
    assert isinstance(book.failure, RunStoreError) and "full" in str(book.failure)
    assert book.next_config() is FINISHED
    kept = SqliteStore(tmp_path, readonly=True).candidates()
    assert kept[0].trial_id == first["trial_id"] and all(r.runs for r in kept if r.trial_id)
    assert len(kept) < 40
