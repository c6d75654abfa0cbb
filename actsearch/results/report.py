"""One self-contained HTML page for a run: settings, leaderboard, plots, confirmation and validation.

The settings are a table in words (:mod:`actsearch.results.runinfo`): what was searched, on what, with
which budget and references, the command as one shell line, and how long the run took. A smoke run
(:mod:`actsearch.results.banner`) says so in a banner under the title, and a ``discover`` run's
leaderboard says what it is ranked by. The function plot draws every reference of the run, the
progress plot a level line at each reference's score. The winners' learnable constants follow the
function plot: the values they reached at the end of training (:mod:`actsearch.results.learned`).

Once the run has a confirmation (``actsearch confirm``), a section lists each candidate − reference
difference with its 95 % interval, adjusted p and verdict, and draws them as an errorbar figure.

When the ``surrogate`` searcher predicted scores before training, the leaderboard has a ``pred``
column and a predicted-vs-real scatter plot follows the progress plot.

Everything is inline — the CSS, and the figures as base64 ``data:`` PNGs — so the file can be
mailed or archived and opens offline: the page references no URL at all and has no scripts.
Every text that comes from the store is shown through :func:`actsearch.results.text.shown`
(control characters escaped, long values clipped) and then HTML-escaped.
"""

from __future__ import annotations

import base64
import datetime as _dt
import math
from html import escape
from pathlib import Path
from typing import Any

from actsearch.errors import UserError
from actsearch.evaluators.result import Status
from actsearch.results.banner import SMOKE_BANNER, is_smoke
from actsearch.results.formats import columns
from actsearch.results.records import Role
from actsearch.results.runinfo import settings_rows
from actsearch.results.text import CELL_CHARS, NAME_CHARS, shown

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #1d1d1f; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5em 0; font-size: 13px; }
th, td { padding: 3px 9px; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
th { background: #f5f5f7; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.expr { font-family: ui-monospace, Menlo, Consolas, monospace; }
tr.ref td { color: #0b6e99; background: #f3f9fc; } tr.failed td { color: #a1260d; } tr.stopped td { color: #777; }
img { max-width: 100%; border: 1px solid #eee; }
.muted { color: #777; }
p.banner { border: 2px solid #c77700; background: #fff6e5; padding: .6em 1em; font-weight: 600; }
p.note { border-left: 3px solid #0b6e99; padding-left: .7em; }
"""
_NUMERIC = {"rank", "pred", "seeds", "cx", "gain", "dnr", "pd"}
def _table(head: list[str], rows: list[list[str]], classes: list[str] | None = None,
           table_id: str = "") -> str:
    attr = f' id="{table_id}"' if table_id else ""
    out = [f"<table{attr}><thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr></thead><tbody>"]
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        tds = []
        for h, c in zip(head, row, strict=True):
            kind = "num" if h in _NUMERIC else ("expr" if h == "expression" else "")
            tds.append(f'<td class="{kind}">{escape(c)}</td>' if kind else f"<td>{escape(c)}</td>")
        out.append(f"<tr{cls}>" + "".join(tds) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<p><img alt="{escape(alt)}" src="data:image/png;base64,{data}"></p>'


def settings_table(meta: dict[str, Any], records: list[Any] | None = None) -> str:
    """The run's settings in words and, given its records, how long it took."""
    pairs = settings_rows(meta, records)
    rows = "".join(f"<tr><th>{escape(shown(k, NAME_CHARS))}</th><td>{escape(shown(v))}</td></tr>" for k, v in pairs)
    return f'<table id="settings"><tbody>{rows}</tbody></table>'


def validation_table(records: list[Any]) -> str:
    """Every validation row, grouped by task, best first."""
    vals = [r for r in records if r.role == Role.VALIDATION and r.alias_of is None]
    if not vals:
        return '<p class="muted">No validation runs yet (<code>actsearch validate RUN_DIR --task T</code>).</p>'
    vals.sort(key=lambda r: (r.task_label, -(r.score if math.isfinite(r.score) else -1.0)))
    head = ["task", "expression", "score", "seeds", "status", "error"]
    rows = [[shown(r.task_label, NAME_CHARS), shown(r.expression, CELL_CHARS),
             "" if not math.isfinite(r.score) else f"{r.score:.4f} ± {r.score_std:.4f}",
             str(len(r.seeds)), shown(r.status, NAME_CHARS), shown(r.error or "", 100)] for r in vals]
    return _table(head, rows, ["failed" if r.status != Status.OK else "" for r in vals], table_id="validation")


def learned_section(entries: list[Any], records: list[Any]) -> list[str]:
    """Per winner with learnable constants, the values they reached at the end of training (mean
    and spread over layers and seeds) beside their initial values; nothing when none has any."""
    from actsearch.results.learned import learned_lines

    by_id = {r.id: r for r in records}
    rows = [[str(e.rank), shown(e.expression, CELL_CHARS), shown(line, CELL_CHARS)]
            for e in entries if e.id in by_id for line in learned_lines(by_id[e.id].runs, e.params)]
    if not rows:
        return []
    return ["<h2>Learned constants</h2>",
            '<p class="muted">Each learnable constant at the end of training: its mean over the '
            "network's layers (± their sd), averaged over the seeds that scored, with the spread of the "
            "seed means.</p>",
            _table(["rank", "expression", "learned"], rows, table_id="learned")]


def confirmation_section(run: Any) -> list[str]:
    """The run's confirmed verdicts: each difference with its interval, as a table and a figure
    (nothing when the run has no confirmation)."""
    from actsearch.results.verdicts import errorbar_figure

    result = run.verdicts()
    if result is None:
        return []
    head = ["expression", "against", "n", "mean diff", "95% CI", "p adj", "verdict"]
    rows = [[shown(c.expression, CELL_CHARS), shown(c.against, NAME_CHARS), str(c.n), f"{c.mean_diff:+.4f}",
             f"[{c.ci_low:+.4f}, {c.ci_high:+.4f}]", f"{c.p_adjusted:.4f}", c.verdict.value]
            for c in result.comparisons]
    seeds = result.seeds
    return ["<h2>Confirmation</h2>",
            f'<p class="muted">On {escape(shown(result.task, NAME_CHARS))}, fresh seeds {seeds[0]}..{seeds[-1]} '
            f"({len(seeds)}), {'paired by seed' if result.paired else 'unpaired (Welch)'}; p adj: Holm-adjusted "
            f"over {len(result.comparisons)} comparisons; a verdict where p adj ≤ {result.alpha / result.looks:g}."
            "</p>",
            _table(head, rows, table_id="confirmation"),
            _img(errorbar_figure(result), "each difference with its 95% interval")]


def render(run: Any, *, top: int | None = 20, task: str | None = None) -> str:
    """The report page as a string."""
    from actsearch.results.plots import (
        board_task,
        entry_curves,
        functions_figure,
        predicted_figure,
        predictions,
        progress_figure,
        reference_levels,
        run_references,
    )

    meta = run.meta
    records = run.records()
    board = run.leaderboard(top=top, task=task)
    head, rows = columns(board)
    classes = ["stopped" if e.status == Status.STOPPED else "failed" if e.status != Status.OK else
               ("ref" if e.role == Role.REFERENCE else "") for e in board]
    ranked = [e for e in board if e.rank is not None][: min(top or 8, 8)]
    curves = entry_curves(ranked)
    evaluated = [r for r in records if r.alias_of is None and r.role == Role.SEARCH]
    stopped = sum(1 for r in evaluated if r.status == Status.STOPPED)
    failed = sum(1 for r in evaluated if r.status != Status.OK) - stopped
    aliases = sum(1 for r in records if r.alias_of is not None)
    name = run.dir.name
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>actsearch report: {escape(name)}</title><style>{_CSS}</style></head><body>",
        f"<h1>actsearch report: {escape(name)}</h1>",
        f'<p class="muted">Generated {stamp}. {len(evaluated)} candidates evaluated '
        f"({failed} failed{f', {stopped} stopped early' if stopped else ''}), {aliases} alias row(s) folded "
        "into their functions.</p>",
        *([f'<p class="banner" id="smoke">{escape(SMOKE_BANNER)}</p>'] if is_smoke(meta) else []),
        "<h2>Settings</h2>",
        settings_table(meta, records),
        f"<h2>Leaderboard: top {sum(e.rank is not None for e in board)}"
        f"{' on ' + escape(shown(board[0].task or '', NAME_CHARS)) if board else ''}</h2>",
        *(f'<p class="note">{escape(shown(n))}</p>' for n in board.notes if n != SMOKE_BANNER),
        _table(head, rows, classes, table_id="leaderboard") if rows else '<p class="muted">No results yet.</p>',
        '<p class="muted">score: mean ± std over seeds; cx: primitive operations; mono: monotonic; '
        "bnd↓: bounded below; linear: LINEAR marks affine functions (a network of them is one linear map); gain: variance-preserving init gain; dnr: dead-neuron rate; "
        "pd: prediction disagreement across seeds; ref: reference functions, unranked; stopped@N: stopped "
        "early at step N, its score the one at that step, ranked after every candidate that finished; a panel task's "
        "member columns: the member's score (in brackets: normalised by ReLU's, in its seed spreads).</p>",
        "<h2>Top functions and derivatives</h2>",
        _img(functions_figure(curves, title=f"top {len(curves)}", references=run_references(meta, records)),
             "top functions and their derivatives, with the references"),
        *learned_section(ranked, records),
        "<h2>Progress</h2>",
        _img(progress_figure(records, levels=reference_levels(records, board_task(board))),
             "best score vs. evaluations per searcher, with a level line per reference"),
        *(["<h2>Predicted vs. real</h2>",
           '<p class="muted">pred: the surrogate\'s score for a candidate, predicted from its cheap '
           "features before it trained; failures count 0.</p>",
           _img(predicted_figure(records), "predicted vs. real score")] if predictions(records) else []),
        *confirmation_section(run),
        "<h2>Validation</h2>",
        validation_table(records),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def write_report(run: Any, out: Path, *, top: int | None = 20, task: str | None = None) -> Path:
    """Render the report and write it to ``out``."""
    html = render(run, top=top, task=task)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(html, encoding="utf-8")
    except OSError as err:
        raise UserError(f"cannot write {out}: {err.strerror or err}") from None
    return out
