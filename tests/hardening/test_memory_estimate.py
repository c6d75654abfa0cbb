"""H5: settings each inside their range that together cannot fit in memory are refused before
anything is built, in one line naming the estimate and the settings that drive it; the default
settings of every built-in task pass. Real CLI, real (meta-device) networks."""

from __future__ import annotations

import time

import pytest

from actsearch.evaluators import budget, get_task
from actsearch.evaluators.tasks import TASKS, needs
from tests.helpers.cli import error_lines, run_cli


@pytest.mark.timeout(60)
@pytest.mark.parametrize("task, settings, named", [
    ("mnist1d", ["width=4096", "depth=64", "batch_size=65536"], "width=4096"),
    ("mnist1d-vit", ["dim=4096", "heads=64", "mlp_ratio=64"], "mlp_ratio=64"),
    ("ood-regression", ["width=4096", "depth=64", "batch_size=65536"], "depth=64"),
])
def test_settings_that_cannot_fit_are_refused_in_one_line(task, settings, named):
    sets = [a for s in settings for a in ("--set", s)]
    total = budget.memory_bytes()
    start = time.monotonic()
    code, out, err = run_cli("evaluate", "relu", "--task", task, *sets, "--json")
    if code == 0 and total is not None and total > 200 * 2**30:
        pytest.skip("this machine has the memory for these settings")
    assert code == 2 and len(error_lines(err)) == 1 and "Traceback" not in err, err
    assert "training needs about" in err and "GiB" in err and named in err and not out
    assert time.monotonic() - start < 30


@pytest.mark.timeout(30)
def test_generating_a_million_mnist1d_examples_is_refused_at_once():
    code, _, err = run_cli("evaluate", "relu", "--task", "mnist1d", "--set", "num_samples=1000000")
    assert code == 2 and "num_samples must be >= 3 and <= 100000" in err and len(error_lines(err)) == 1


def test_stacked_seeds_count_in_the_estimate():
    one = needs(get_task("mnist1d", width=512, depth=16, batch_size=8192))
    assert one.bytes(8) > 7 * one.bytes(1) - 8 * budget.FLOAT_BYTES * one.data


def test_default_settings_of_every_built_in_task_pass():
    for name in TASKS:
        task = get_task(name)  # refused here if the estimate did not fit
        assert needs(task).bytes() < budget.MEMORY_FRACTION * (budget.memory_bytes() or float("inf")), name


@pytest.mark.timeout(60)
def test_a_search_counts_its_packs_and_workers_in_the_estimate(tmp_path):
    """One network of these settings fits; 8 candidates stacked in each of 2 workers' trials do not: the
    search is refused in one line before the run directory is created."""
    settings = dict(width=2048, depth=16, batch_size=8192)
    one = needs(get_task("mnist1d", **settings)).bytes(1)
    total = budget.memory_bytes()
    if total is None or not one < budget.MEMORY_FRACTION * total < 16 * one:
        pytest.skip("this machine's memory does not separate one network from sixteen")
    sets = [a for k, v in settings.items() for a in ("--set", f"{k}={v}")]
    run_dir = tmp_path / "run"
    code, out, err = run_cli("search", "--space", "quick", "--searcher", "random", "--task", "mnist1d", *sets,
                             "--budget", "8", "--workers", "2", "--pack", "8", "--references", "", "--plain",
                             "--run-dir", str(run_dir))
    assert code == 2 and len(error_lines(err)) == 1 and "training needs about" in err, err
    assert not run_dir.exists()
