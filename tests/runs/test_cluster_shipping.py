"""A user's task file travels to a real 2-node Ray cluster on 127.0.0.1 (``ray start``), where it
exists only in the driver's directory: every trial is ok, trials ran on both nodes, and each ran
the copy Ray shipped (never the driver's path), neighbour module included; then the same for a
``package.module:NAME`` task whose package only the driver's directory holds.

The nodes (``tests/helpers/cluster.py``) can import actsearch but not the task: they start in an
empty directory.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from actsearch.results.store import SqliteStore
from tests.helpers.cluster import cluster, search

TASK = '''
import os

import torch
from torch import nn

from helper import TARGET  # a neighbour module: travels with the file's directory


def fit(act, seed, report):
    """A small MLP fitted to TARGET for a second or so: score = minus the final loss."""
    torch.manual_seed(seed)
    x = torch.linspace(-2, 2, 128).unsqueeze(1)
    net = nn.Sequential(nn.Linear(1, 32), act(), nn.Linear(32, 1))
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    for step in range(1, 301):
        loss = ((net(x) - TARGET(x)) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0:
            report(step // 100, -loss.item())
    return {"score": -loss.item(), "file": os.path.realpath(__file__)}
'''
HELPER = "import torch\n\n\ndef TARGET(x):\n    return torch.sin(2 * x)\n"


@pytest.mark.slow
def test_user_task_file_ships_to_a_two_node_cluster(tmp_path):
    task_dir, nodes_dir, run_dir = tmp_path / "mine", tmp_path / "nodes", tmp_path / "run"
    task_dir.mkdir()
    nodes_dir.mkdir()
    (task_dir / "mytask.py").write_text(TASK)
    (task_dir / "helper.py").write_text(HELPER)
    # The same task as package.module:NAME, importable on the driver's PYTHONPATH only (not from its
    # current directory, which Ray puts on every worker's sys.path: on a loopback cluster that would
    # find the driver's copy).
    package = tmp_path / "src" / "mypkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "helper.py").write_text(HELPER)
    (package / "tasks.py").write_text(TASK.replace("from helper import", "from .helper import"))
    with cluster(nodes_dir, workers=1) as address:
        def go(task: str, budget: int, run_to: Path, path: str = "") -> tuple[list, dict]:
            proc = search(address, task, budget, run_to, task_dir, path=path)
            assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
            with SqliteStore(run_to, readonly=True) as store:
                trials = [r for r in store.candidates(role="search") if r.trained]
                meta = store.meta()
            assert len(trials) == budget and all(r.status == "ok" for r in trials), \
                [(r.status, r.error) for r in trials]
            return trials, meta

        trials, meta = go("mytask.py:fit", 4, run_dir)
        nodes = {r.metrics.get("node") for r in trials}
        assert len(nodes) == 2 and None not in nodes, nodes
        driver_file = str((task_dir / "mytask.py").resolve())
        files = {run["metrics"].get("file") for r in trials for run in r.runs}
        assert driver_file not in files and all("runtime_resources" in f for f in files), files
        assert meta["task_source"]["reference"] == f"{driver_file}:fit"
        assert json.loads(json.dumps(meta["probe"]))["kind"] == "gaussian"
        # A module of a package only the driver's directory holds: the package travels.
        trials, meta = go("mypkg.tasks:fit", 2, tmp_path / "run-module", os.pathsep + str(package.parent))
        files = {run["metrics"].get("file") for r in trials for run in r.runs}
        assert all("runtime_resources" in f and f.endswith("/mypkg/tasks.py") for f in files), files
        assert meta["task_source"]["reference"] == "mypkg.tasks:fit" and meta["task_source"]["sha256"]
