"""The report reads as a page, not a dump: settings in words (the command as one shell line, the
pre-screen explained, a wall time), every reference of the run in the function plot with its own
line style, above the candidates, and a level line per reference on the progress plot."""

from __future__ import annotations

import datetime as _dt
import html as _html
import re
import shutil

import pytest

import actsearch
from actsearch.results import plots
from actsearch.results.records import REFERENCES
from actsearch.results.runinfo import command_line, duration, settings_rows
from actsearch.results.store import SqliteStore
from actsearch.results.timings import timings

ARGV = ["/opt/env/bin/actsearch", "search", "--space", "quick", "--task", "digits", "--budget", "10",
        "--run-dir", "runs/my search"]
STARTED = 90.0  # seconds before the rows were stored


@pytest.fixture(scope="module")
def run(run_dir, tmp_path_factory):
    """The generated run with the metadata a real search stores and a gelu reference row."""
    from tests.helpers.stores import result

    copy = tmp_path_factory.mktemp("readable") / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns(".writer.lock"))
    start = _dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(seconds=STARTED)
    spec = {"space": "quick", "searcher": "random", "task": "digits", "budget": 10, "seeds": 2, "seed": 0,
            "workers": 2, "cpus_per_trial": 1.0, "gpus_per_trial": 0.0, "address": None, "scheduler": None,
            "references": list(REFERENCES), "task_overrides": {}, "searcher_options": {}, "time_limit_s": None,
            "prescreen": None, "pack": None, "ship": []}
    with SqliteStore(copy) as store:
        store.init_run({"spec": spec, "command": ARGV, "created_at": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "seeds": 2, "prescreen": None, "references": list(REFERENCES)})
        text = actsearch.library.expression("gelu")
        store.record(text, actsearch.parse(text).fingerprint, result([0.94, 0.92]), task="digits",
                     role="reference", reference="gelu", searcher="reference", trial=20, seeds=[0, 1])
    return copy


def _settings(html: str) -> dict[str, str]:
    table = html[html.index('<table id="settings">'):]
    table = table[: table.index("</table>")]
    return {_html.unescape(k): _html.unescape(v) for k, v in re.findall(r"<tr><th>(.*?)</th><td>(.*?)</td></tr>", table)}


def test_settings_are_a_table_in_words_with_the_command_on_one_line(run, tmp_path):
    with actsearch.open_run(run) as opened:
        settings = _settings(opened.report(tmp_path / "r.html").read_text())
    assert settings["command"] == "actsearch search --space quick --task digits --budget 10 --run-dir 'runs/my search'"
    assert settings["searched"] == "space quick with the random searcher"
    assert settings["references"] == "relu, gelu, swish" and settings["task"] == "digits"
    assert settings["pre-screen"].startswith("on (the default): ")  # null explained in words
    assert settings["seeds"].startswith("2 per candidate (seeds 0..1)")
    assert "spec" not in settings and not any(v.startswith(("[", "{")) for v in settings.values())
    assert re.fullmatch(r"1 min \d\d s from the start to the last stored row", settings["wall time"])
    assert re.match(r"[\d.]+ s of wall time for each of 6 search candidates; [\d.]+ s of training each",
                    settings["per candidate"])


def test_wall_time_spans_the_start_to_the_last_row_and_its_training(run):
    with actsearch.open_run(run) as opened:
        meta, records = opened.meta, opened.records()
    t = timings(meta, records)
    assert STARTED <= t.wall_s < STARTED + 60
    per = dict(settings_rows(meta, records))["per candidate"]
    assert per.startswith(f"{duration(t.wall_s / 6)} of wall time for each of 6 search candidates")  # 1 never trained
    assert "set-up (searcher)" in dict(settings_rows(meta, records))["where the time went"]
    assert dict(settings_rows(meta))["command"].startswith("actsearch search")  # without records: no timings
    assert "wall time" not in dict(settings_rows(meta)) and "wall time" in dict(settings_rows(meta, records))
    assert duration(5.24) == "5.2 s" and duration(837) == "13 min 57 s" and duration(7500) == "2 h 05 min"
    assert command_line("actsearch search --space quick") == "actsearch search --space quick"  # stored as text
    assert command_line(["python", "-c", "x"]) == "python -c x"


def test_the_function_plot_draws_every_reference_above_the_candidates(run):
    with actsearch.open_run(run) as opened:
        names = plots.run_references(opened.meta, opened.records())
        board = [e for e in opened.leaderboard(top=3, properties=False) if e.rank is not None]
    assert names == ["relu", "gelu", "swish"]
    fig = plots.functions_plot(plots.entry_curves(board), references=names)
    ax_f, ax_d = fig.axes
    drawn = [line for line in ax_f.get_lines() if not line.get_label().startswith("_")]  # not the axes' lines
    labels = [line.get_label() for line in drawn]
    assert len(labels) == 6 and labels[-3:] == ["relu (reference)", "gelu (reference)", "swish (reference)"]
    refs, cands = drawn[-3:], drawn[:3]
    assert all(r.get_linestyle() not in ("-", "None") for r in refs)  # dashed, each its own pattern:
    assert len({str(plots.reference_style(n, i)["ls"]) for i, n in enumerate(names)}) == 3
    assert min(r.get_zorder() for r in refs) > max(c.get_zorder() for c in cands)  # on top, never hidden
    widths = [c.get_linewidth() for c in cands]
    assert widths == sorted(widths, reverse=True) and len(set(widths)) == 3  # #1 widest, beneath #2
    assert [c.get_zorder() for c in cands] == sorted(c.get_zorder() for c in cands)
    assert len(ax_d.get_lines()) == len(ax_f.get_lines())
    # the default is every default reference, GELU included
    default = [line.get_label() for line in plots.functions_plot([]).axes[0].get_lines()
               if not line.get_label().startswith("_")]
    assert default == [f"{n} (reference)" for n in REFERENCES]


def test_the_progress_plot_has_a_level_line_per_reference(run):
    with actsearch.open_run(run) as opened:
        records = opened.records()
    levels = plots.reference_levels(records)
    assert levels == pytest.approx({"relu": 0.91, "swish": 0.94, "gelu": 0.93})
    ax = plots.progress_plot(records).axes[0]
    flat = {line.get_label(): list(line.get_ydata()) for line in ax.get_lines() if line.get_label() != "random"}
    assert sorted(flat) == sorted(f"{n} {s:.4f}" for n, s in levels.items())
    for name, score in levels.items():  # horizontal, at the reference's score
        assert flat[f"{name} {score:.4f}"] == pytest.approx([score, score])
    assert [t.get_text() for t in ax.get_legend().get_texts()][0] == "random"
