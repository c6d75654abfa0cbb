"""The public API: every name ``actsearch`` exports resolves (lazily, so ``import actsearch`` stays
light), and the search loop's extension points are among them."""

from __future__ import annotations

import subprocess
import sys

import pytest

import actsearch

EXTENSION_POINTS = ("Study", "Searcher", "Proposal", "Outcome", "WAIT", "FINISHED", "Space", "Store", "open_store",
                    "register_searcher", "register_task", "run_search")


def test_the_extension_points_are_exported_as_the_objects_of_their_modules():
    from actsearch.results.store import Store, open_store
    from actsearch.search.loop.study import Study
    from actsearch.search.searchers import FINISHED, WAIT, Outcome, Proposal, Searcher, register_searcher
    from actsearch.search.space import Space

    assert set(EXTENSION_POINTS) <= set(actsearch.__all__)
    mine = {"Study": Study, "Searcher": Searcher, "Proposal": Proposal, "Outcome": Outcome, "WAIT": WAIT,
            "FINISHED": FINISHED, "Space": Space, "Store": Store, "open_store": open_store,
            "register_searcher": register_searcher}
    for name, value in mine.items():
        assert getattr(actsearch, name) is value, name


@pytest.mark.train
def test_import_actsearch_is_light_and_every_export_resolves():
    probe = ("import sys, actsearch\n"
             "light = not any(m in sys.modules for m in ('torch', 'ray', 'sympy'))\n"
             "missing = [n for n in actsearch.__all__ if getattr(actsearch, n, None) is None]\n"
             "print(light, missing)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.split() == ["True", "[]"], out.stdout + out.stderr[-2000:]
