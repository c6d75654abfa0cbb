"""Plots are valid PNGs; the HTML report is self-contained, escaped, and renders in Chromium."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

import actsearch
from actsearch.errors import UserError
from actsearch.results import plots

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk (which must come first)."""
    assert data[:8] == PNG_MAGIC and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_plot_writes_two_pngs(run_dir, tmp_path):
    with actsearch.open_run(run_dir) as run:
        paths = run.plot(tmp_path / "top.png", top=3)
    assert [p.name for p in paths] == ["top.png", "top-progress.png"]
    w, h = png_size(paths[0].read_bytes())
    assert (w, h) == (1100, 420)
    assert png_size(paths[1].read_bytes()) == (700, 400)
    assert paths[0].stat().st_size > 20_000  # curves drawn, not an empty canvas
    with actsearch.open_run(run_dir) as run, pytest.raises(UserError, match=".png"):
        run.plot(tmp_path / "top.jpg")


def test_curve_derivative_is_autograd_of_the_module():
    x, y, dy = plots.curve(actsearch.parse("x^2 / 2").module())
    assert x[0] == -6.0 and x[-1] == 6.0
    assert max(abs(a - b) for a, b in zip(x, dy, strict=True)) < 1e-12


def test_progress_is_running_best_per_searcher(run_dir):
    with actsearch.open_run(run_dir) as run:
        prog = plots.progress(run.records())
    assert list(prog) == ["random"]
    assert prog["random"] == pytest.approx([0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95])  # 7 evaluated


def test_ascii_plot_of_relu():
    text = plots.ascii_plot(actsearch.get("relu"))
    rows = text.splitlines()[1:-1]
    starred = [r for r in rows if "*" in r]
    assert starred[0].rstrip().endswith("*")  # the maximum, at x = 6, is the last column
    assert starred[-1].count("*") >= 30 and "-" in starred[-1]  # the flat half, on the zero line


@pytest.fixture(scope="module")
def report(run_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    with actsearch.open_run(run_dir) as run:
        run.report(out, top=10)
    return out


def test_report_is_self_contained(report):
    html = report.read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)
    assert "<script" not in html and "<link" not in html and "@import" not in html
    imgs = re.findall(r'<img alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]+)">', html)
    assert len(imgs) == 2
    import base64

    for data in imgs:
        assert base64.b64decode(data)[:8] == PNG_MAGIC
    table = html[html.index('<table id="leaderboard">'):]
    table = table[: table.index("</table>")]
    assert table.count("<tr") == 1 + 7  # header, 5 ranked + 2 references
    assert "x * sigmoid(beta * x)  (= swish)" in table
    assert 'id="validation"' in html and "digits[steps=50]" in html
    assert "actsearch search --space quick --task digits" in html  # settings


def test_report_escapes_stored_text(tmp_path):
    from actsearch.evaluators.result import CandidateResult, EvalResult
    from actsearch.results.store import SqliteStore

    evil = '<script>alert("x")</script><img src="https://example.com/a.png">'
    with SqliteStore(tmp_path / "run") as store:
        store.init_run({"task": "t", "command": evil})
        res = CandidateResult.from_runs([EvalResult(status="ok", score=0.5, seed=0)])
        store.record("tanh(x)", actsearch.parse("tanh(x)").fingerprint, res, task="t", searcher=evil, seeds=[0])
    with actsearch.open_run(tmp_path / "run") as run:
        html = run.report(tmp_path / "r.html").read_text()
    assert "<script>" not in html and "https://example.com" not in html.replace("&quot;https://example.com", "")
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


CHECK = """<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.length > 0 && imgs.every(function (i) { return i.complete && i.naturalWidth > 0; });
  var rows = document.querySelectorAll("#leaderboard tbody tr");
  var shown = Array.prototype.every.call(rows, function (r) { return r.getBoundingClientRect().height > 0; });
  var m = document.createElement("pre");
  m.id = "render-check";
  m.textContent = "images=" + imgs.length + " loaded=" + ok + " rows=" + rows.length + " visible=" + shown +
    " width=" + (imgs[0] ? imgs[0].naturalWidth : 0);
  document.body.appendChild(m);
});
</script>"""


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="chromium is not installed (apt-get install chromium)")
def test_report_renders_in_headless_chromium(report, tmp_path):
    page = tmp_path / "check.html"  # the report plus a checker script (the report itself has none)
    page.write_text(report.read_text().replace("</body>", CHECK + "</body>"))
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--dump-dom",
           page.as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="render-check">([^<]*)</pre>', proc.stdout)
    assert found, proc.stderr[-2000:]
    assert found.group(1) == "images=2 loaded=true rows=7 visible=true width=1100"
    shot = tmp_path / "shot.png"
    subprocess.run([*cmd[:-2], f"--screenshot={shot}", "--window-size=1280,2400", Path(report).as_uri()],
                   capture_output=True, timeout=120)
    assert shot.read_bytes()[:8] == PNG_MAGIC and shot.stat().st_size > 50_000
