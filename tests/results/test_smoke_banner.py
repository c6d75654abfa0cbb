"""A smoke run says so wherever its results are shown; a discover run's leaderboard says what it
ranks by; a plain search says neither. The runs are real stores written through the store's API."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import actsearch
from actsearch.cli import app
from actsearch.results.banner import DISCOVER_NOTE, SMOKE_BANNER, is_discover, is_smoke, run_notes
from actsearch.results.store import SqliteStore
from tests.helpers.stores import fill

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier


def _run_of(base: Path, tmp: Path, preset: str | None) -> Path:
    run = tmp / (preset or "plain")
    shutil.copytree(base, run, ignore=shutil.ignore_patterns(".writer.lock"))
    if preset is not None:
        with SqliteStore(run) as store:
            store.init_run({"preset": preset})
    return run


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("banner")
    base = fill(tmp / "base")
    return {name: _run_of(base, tmp, name) for name in ("rediscover-smoke", "discover-smoke", "discover", "rediscover")}


def invoke(*args: object):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def test_the_decision_reads_the_preset_name():
    assert is_smoke({"preset": "rediscover-smoke"}) and is_smoke({"preset": "discover-smoke"})
    assert not is_smoke({"preset": "rediscover"}) and not is_smoke({}) and not is_smoke({"preset": 3})
    assert is_discover({"preset": "discover-smoke"}) and not is_discover({"preset": "rediscover-smoke"})
    assert run_notes({"preset": "discover-smoke"}) == [SMOKE_BANNER, DISCOVER_NOTE] and run_notes({}) == []


@pytest.mark.parametrize("preset", ["rediscover-smoke", "discover-smoke"])
def test_a_smoke_run_says_so_in_every_view(runs, preset, tmp_path):
    run = runs[preset]
    assert SMOKE_BANNER in invoke("leaderboard", run).stdout
    assert f"> **note:** {SMOKE_BANNER}" in invoke("leaderboard", run, "--format", "markdown").stdout
    for fmt in ("csv", "json"):  # the data stays as it is; the banner goes to stderr
        result = invoke("leaderboard", run, "--format", fmt)
        assert SMOKE_BANNER not in result.stdout and SMOKE_BANNER in result.stderr
    rows = list(csv.DictReader(io.StringIO(invoke("leaderboard", run, "--format", "csv").stdout)))
    assert rows[0]["rank"] == "1"
    assert isinstance(json.loads(invoke("leaderboard", run, "--format", "json").stdout), list)
    assert SMOKE_BANNER in invoke("show", run, "1").stdout
    shown = invoke("show", run, "1", "--json")
    assert json.loads(shown.stdout)["rank"] == 1 and SMOKE_BANNER in shown.stderr
    with actsearch.open_run(run) as opened:
        html = opened.report(tmp_path / "r.html").read_text()
        assert SMOKE_BANNER in opened.leaderboard().format("table")
    assert f'<p class="banner" id="smoke">{SMOKE_BANNER}</p>' in html


def test_a_discover_leaderboard_says_what_it_ranks_by(runs, tmp_path):
    for preset in ("discover", "discover-smoke"):
        assert DISCOVER_NOTE in invoke("leaderboard", runs[preset]).stdout
    assert SMOKE_BANNER not in invoke("leaderboard", runs["discover"]).stdout
    with actsearch.open_run(runs["discover"]) as opened:
        html = opened.report(tmp_path / "r.html").read_text()
    assert DISCOVER_NOTE.replace("'", "&#x27;") in html and SMOKE_BANNER not in html


@pytest.mark.parametrize("which", ["plain", "rediscover"])
def test_a_run_that_is_no_smoke_run_has_no_banner(runs, run_dir, which, tmp_path):
    run = run_dir if which == "plain" else runs[which]
    outputs = [invoke("leaderboard", run, "--format", fmt) for fmt in ("table", "markdown", "csv", "json")]
    outputs.append(invoke("show", run, "1"))
    assert not any("smoke" in r.stdout or "smoke" in r.stderr or "note:" in r.stdout for r in outputs)
    with actsearch.open_run(run) as opened:
        assert "smoke" not in opened.report(tmp_path / "r.html").read_text()


def test_a_smoke_pipeline_opens_its_log_with_the_banner(tmp_path):
    from actsearch.search.pipelines import run_pipeline

    class Stop(Exception):
        pass

    def first_line(line: str) -> None:  # stop at the first line: before anything trains
        lines.append(line)
        raise Stop

    for preset, banner in (("rediscover-smoke", True), ("discover-smoke", True), ("rediscover", False)):
        lines: list[str] = []
        with pytest.raises(Stop):
            run_pipeline(preset, tmp_path / preset, log=first_line)
        assert (lines == [SMOKE_BANNER]) is banner, lines
