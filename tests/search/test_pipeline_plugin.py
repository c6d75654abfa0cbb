"""A new pipeline is one module: a :class:`Pipeline` subclass registered by name runs through the
same skeleton as rediscover and discover (store, resume, Ray, the verdict phase), and an installed
package adds one through the ``actsearch.pipelines`` entry-point group that the CLI runs by name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from actsearch.results.store import SqliteStore
from actsearch.search.pipelines import (
    STATE,
    VERDICT,
    PipelineError,
    get_pipeline,
    pipeline_names,
    register_pipeline,
    run_pipeline,
)

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

ROOT = Path(__file__).resolve().parents[2]

# The whole plugin: a plan, a pipeline with two phases (a random search, then the verdict), a name.
PLUGIN = '''
"""A two-phase pipeline: a short random search on digits, then its verdict on fresh seeds."""
from dataclasses import dataclass

from actsearch.search.pipelines import Pipeline
from actsearch.search.rundir.spec import SearchSpec


@dataclass(frozen=True)
class TinyPlan:
    candidates: int = 2
    steps: int = 5


class Tiny(Pipeline):
    def budget(self):
        return self.plan.candidates

    def spec(self, budget, *, workers, address):
        return SearchSpec(space="quick", searcher="random", task="digits", budget=budget, seeds=1,
                          workers=workers, references=("relu",), task_overrides={"steps": self.plan.steps},
                          prescreen=False, address=address)

    def run_phases(self, run):
        if not run.phases.done("search") and not run.phases.search(run.spec, "search"):
            return None
        verdict = run.phases.confirm(top=1, seeds=2, references=("relu",))
        return None if verdict is None else {"wall_s": run.phases.state["wall_s"], "found": verdict["summary"],
                                             "evaluated": run.budget}


PIPELINE = Tiny(TinyPlan())
'''


def _plugin(tmp_path: Path) -> Path:
    """The plugin as an installed package would be: its module and an entry point in a dist-info."""
    site = tmp_path / "site"
    (site / "tinypipe").mkdir(parents=True)
    (site / "tinypipe" / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    info = site / "tinypipe-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tinypipe\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[actsearch.pipelines]\ntiny = tinypipe:PIPELINE\n")
    return site


def test_the_built_in_pipelines_are_registered_by_their_modules():
    import actsearch.search.pipelines.discover  # noqa: F401  (imported first: the listed order must not change)

    names = pipeline_names()
    assert names[:4] == ("rediscover", "rediscover-smoke", "discover", "discover-smoke")
    assert {"rediscover", "rediscover-smoke", "discover", "discover-smoke"} <= set(names)
    assert get_pipeline("discover").budget_key == "search_budget" and get_pipeline("rediscover").plan.top == 10
    with pytest.raises(PipelineError, match="unknown preset 'nope'; valid: rediscover, discover"):
        get_pipeline("nope")
    with pytest.raises(PipelineError, match="expected a Pipeline instance"):
        register_pipeline("broken", object())  # type: ignore[arg-type]


@pytest.mark.train
def test_a_registered_pipeline_runs_and_resumes_through_the_shared_skeleton(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(_plugin(tmp_path)))
    import tinypipe

    register_pipeline("tiny-inline", tinypipe.PIPELINE)
    run_dir = tmp_path / "run"
    lines: list[str] = []
    summary = run_pipeline("tiny-inline", run_dir, workers=1, log=lines.append)
    assert not summary["interrupted"] and summary["budget"] == 2 and summary["evaluated"] == 2
    assert list(summary["wall_s"]) == ["search", "confirm"]
    assert any(line.startswith("[confirm]") for line in lines)
    verdict = json.loads((run_dir / VERDICT).read_text())
    assert verdict["summary"] == summary["found"] and verdict["comparisons"]
    with SqliteStore(run_dir, readonly=True) as store:
        meta, state = store.meta(), store.load_state(STATE)
    assert meta["preset"] == "tiny-inline" and meta["plan"] == {"candidates": 2, "steps": 5, "budget": 2}
    assert state["done"] == ["search", "confirm"]
    again = run_pipeline("tiny-inline", run_dir, workers=1, resume=True, log=lambda line: None)
    assert again["found"] == summary["found"] and again["wall_s"] == summary["wall_s"]  # nothing trained twice


@pytest.mark.slow
def test_an_installed_pipeline_runs_by_name_through_the_cli(tmp_path):
    site = _plugin(tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    listed = subprocess.run([sys.executable, "-m", "actsearch.cli", "search", "--help"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert "tiny" in " ".join(listed.stdout.split())
    out = subprocess.run([sys.executable, "-m", "actsearch.cli", "search", "--preset", "tiny", "--workers", "1",
                          "--run-dir", str(tmp_path / "run")], env=env, cwd=tmp_path, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "found (fresh seeds, paired, Holm-corrected):" in out.stdout
    with SqliteStore(tmp_path / "run", readonly=True) as store:
        assert store.meta()["preset"] == "tiny" and store.load_state(STATE)["done"] == ["search", "confirm"]
