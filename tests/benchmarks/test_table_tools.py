"""The score-table tools in benchmarks/data: ``make_table.py`` shards and resumes from its own file
(the only state, so a table can be made over sittings on different machines)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data"
TABLE = DATA / "x-gated-mnist1d.csv"


def _make(out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(DATA / "make_table.py"), "--space", "x-gated", "--task",
                             f"table:{TABLE}", "--out", str(out), "--order", "shuffled", *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _rows(path: Path) -> list[dict]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_two_shards_at_once_write_every_function_once(tmp_path):
    out = tmp_path / "t.csv"
    procs = [_make(out, "--shard", f"{k}/2") for k in (0, 1)]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()
    rows = _rows(out)
    truth = {r["fingerprint"]: r for r in _rows(TABLE)}
    fps = [r["fingerprint"] for r in rows]
    assert len(fps) == len(set(fps)) == 331  # the space's 320 trainable + 11 trivial, each once
    for r in rows:
        assert r["status"] == truth[r["fingerprint"]]["status"]
        if r["status"] == "ok":
            assert float(r["score"]) == float(truth[r["fingerprint"]]["score"])


def test_a_second_sitting_continues_from_the_file(tmp_path):
    out = tmp_path / "t.csv"
    full = _make(out)
    assert full.wait(timeout=300) == 0, full.stderr.read()
    rows = _rows(out)
    with out.open("w", newline="") as fh:  # keep the header and the first 100 rows: a stopped sitting
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows[:100])
    again = _make(out)
    assert again.wait(timeout=300) == 0, again.stderr.read()
    resumed = _rows(out)
    assert resumed[:100] == rows[:100]
    assert sorted(r["fingerprint"] for r in resumed) == sorted(r["fingerprint"] for r in rows)
    assert [r["fingerprint"] for r in resumed[100:]] == [r["fingerprint"] for r in rows[100:]]  # same order


def test_bench_searchers_replays_a_partial_table_without_fingerprints(tmp_path):
    """A table that leaves half the space unscored and has no ``fingerprint`` column replays:
    the targets are among the scored rows, unscored proposals are not counted as evaluations."""
    rows = _rows(TABLE)[::2]
    table = tmp_path / "half.csv"
    fields = [f for f in rows[0] if f != "fingerprint"]
    with table.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    out = tmp_path / "eff.json"
    bench = DATA.parent / "bench_searchers.py"
    proc = subprocess.run([sys.executable, str(bench), "--table", str(table), "--space", "x-gated", "--seeds", "3",
                           "--variants", "random,evolution", "--enumerate", "0", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    eff = json.loads(out.read_text())["sample_efficiency"]
    assert 0.4 * eff["distinct"] < eff["in_table"] <= len(rows) < eff["distinct"]  # about half scored
    for target in eff["targets"].values():
        for rec in target["searchers"].values():
            assert all(1 <= c <= eff["in_table"] for c in rec["counts"])  # found, counting scored proposals only
