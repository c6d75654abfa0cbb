"""Leaderboard output formats: a rich terminal table, CSV, JSON and Markdown.

CSV and JSON carry every :class:`~actsearch.results.entry.Entry` field (CSV stores
``params`` and ``aliases`` as JSON text), and :func:`from_csv` / :func:`from_json` read them
back into the same dictionaries, so the files round-trip and load straight into pandas. A CSV text
cell that begins with ``=``, ``+``, ``-``, ``@``, tab or CR gets a leading ``'`` (spreadsheet
formula injection), which :func:`from_csv` removes. Stored text is shown through
:func:`actsearch.results.text.visible` in every format (control characters escaped, so a terminal
escape sequence in an error message is printed, never obeyed; JSON escapes them itself), and the
table, Markdown and HTML cells are clipped (:data:`~actsearch.results.text.CELL_CHARS`); CSV and
JSON keep the full text.
The table and Markdown forms show the human columns: rank, expression, score mean ± std, seeds,
status (``stopped@333``: stopped early at step 333, its score the one at that step; such rows rank
after every candidate that finished, :func:`~actsearch.results.leaderboard.rank_key`), complexity, key properties (a ``linear`` column, LINEAR for affine functions, when any entry
is one), dead-neuron rate, reproducibility, aliases, validation, and
``pred`` (the surrogate's predicted score) when any entry has one, and for a ``panel:`` task one
column per member task: its own score and, in brackets, the score normalised by ReLU's. Once the run
has a confirmation (``actsearch confirm``), a column ``vs relu / gelu / swish`` gives one symbol per
reference (▲ better, ▼ worse, = no clear difference, blank: not confirmed), and CSV and JSON a ``vs``
field (reference -> verdict); without one, every format is as before.
``notes`` (a smoke run's banner, a discover run's ranking note: :mod:`actsearch.results.banner`) head
the table and, quoted, the Markdown; CSV and JSON leave them out (their columns stay the same), and
the CLI prints them on stderr for those.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import fields
from typing import Any

from actsearch.errors import UserError
from actsearch.evaluators.result import Status
from actsearch.results.entry import Entry
from actsearch.results.records import Role
from actsearch.results.text import CELL_CHARS, ERROR_CELL_CHARS, NAME_CHARS, shown, visible

FORMATS = ("table", "csv", "json", "markdown")
_JSON_FIELDS = ("params", "aliases", "panel", "panel_z", "vs")
_INT_FIELDS = ("rank", "seeds", "steps", "complexity", "val_seeds")
_FLOAT_FIELDS = ("score", "score_std", "gain", "dnr", "pd", "val_score", "val_std", "predicted", "predicted_spread")
_BOOL_FIELDS = ("monotonic", "bounded_below", "linear")


def render(entries: list[Entry], fmt: str, *, width: int = 160, notes: list[str] | tuple[str, ...] = ()) -> str:
    """The leaderboard as text in ``fmt`` (one of :data:`FORMATS`); ``notes`` head the table and
    Markdown forms (CSV and JSON leave them out)."""
    if fmt == "json":
        return to_json(entries)
    if fmt == "csv":
        return to_csv(entries)
    if fmt == "markdown":
        return "".join(f"> **note:** {visible(n)}\n\n" for n in notes) + to_markdown(entries)
    if fmt == "table":
        return "".join(f"note: {visible(n)}\n" for n in notes) + to_table(entries, width=width)
    raise UserError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def to_json(entries: list[Entry]) -> str:
    """One JSON list of objects, one per entry (NaN/inf become null)."""
    confirmed = any(e.vs for e in entries)  # every row has ``vs`` once any has a verdict
    return json.dumps([{k: _clean(v) for k, v in {**e.to_dict(), **({"vs": e.vs} if confirmed else {})}.items()}
                       for e in entries], indent=2) + "\n"


def from_json(text: str) -> list[dict[str, Any]]:
    """Read :func:`to_json` output back."""
    return json.loads(text)


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet reads as the start of a formula


def neutral_cell(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula gets a leading ``'`` (as spreadsheet
    exports do); numbers are left alone. :func:`from_csv` takes the quote off again."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def to_csv(entries: list[Entry]) -> str:
    """CSV with a header of every entry field; params/aliases as JSON text, None as empty."""
    names = [f.name for f in fields(Entry) if f.name != "vs" or any(e.vs for e in entries)]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    for e in entries:
        row = {}
        for k, v in {**e.to_dict(), **({"vs": e.vs} if "vs" in names else {})}.items():
            v = _clean(v)
            row[k] = json.dumps(v) if k in _JSON_FIELDS else ("" if v is None else v)
            row[k] = neutral_cell(visible(row[k], newlines=True) if isinstance(row[k], str) else row[k])
        writer.writerow(row)
    return buf.getvalue()


def from_csv(text: str) -> list[dict[str, Any]]:
    """Read :func:`to_csv` output back into typed dictionaries (the JSON form)."""
    out = []
    for row in csv.DictReader(io.StringIO(text)):
        rec: dict[str, Any] = {}
        for k, v in row.items():
            if v.startswith("'") and v[1:].startswith(FORMULA_START):
                v = v[1:]
            if k in _JSON_FIELDS:
                rec[k] = json.loads(v)
            elif v == "":
                rec[k] = None
            elif k in _INT_FIELDS:
                rec[k] = int(v)
            elif k in _FLOAT_FIELDS:
                rec[k] = float(v)
            elif k in _BOOL_FIELDS:
                rec[k] = v == "True"
            elif k == "id":
                rec[k] = int(v) if v.lstrip("-").isdigit() else v
            else:
                rec[k] = v
        out.append(rec)
    return out


def _num(v: float | None, digits: int = 4) -> str:
    return "" if v is None else f"{v:.{digits}f}"


def _flag(v: bool | None) -> str:
    return "" if v is None else ("yes" if v else "no")


def status_cell(e: Entry) -> str:
    """The status as a table shows it: ``stopped@333`` for a candidate stopped early at step 333."""
    stopped = e.status == Status.STOPPED and e.steps is not None
    return shown(f"{e.status}@{e.steps}" if stopped else e.status, NAME_CHARS)


def columns(entries: list[Entry]) -> tuple[list[str], list[list[str]]]:
    """Header and text cells of the human-readable table (shared by table, Markdown and HTML)."""
    has_val = any(e.val_task for e in entries)
    has_err = any(e.status != Status.OK for e in entries)
    has_pred = any(e.predicted is not None for e in entries)
    has_lin = any(e.linear for e in entries)
    head = ["rank", "expression", "score", *(["pred"] if has_pred else []), "seeds", "status", "cx",
            *(["linear"] if has_lin else []), "mono", "bnd↓", "gain", "dnr", "pd", "aliases"]
    members = list(dict.fromkeys(t for e in entries for t in e.panel))  # a panel task's members, in order
    head += [_member_label(t) for t in members]
    if has_val:
        head.append(f"val ({shown(next(e.val_task for e in entries if e.val_task), NAME_CHARS)})")
    refs = list(dict.fromkeys(r for e in entries for r in e.vs))  # the references confirmed against
    if refs:
        head.append("vs " + " / ".join(shown(r, NAME_CHARS) for r in refs))
    if has_err:
        head.append("error")
    rows = []
    for e in entries:
        rank = str(e.rank) if e.rank is not None else ("ref" if e.role == Role.REFERENCE else "-")
        if e.role == Role.REFERENCE:
            expr = e.reference or e.expression
        else:
            expr = e.expression + (f"  (= {e.reference})" if e.reference else "")
        score = "" if e.score is None else f"{e.score:.4f} ± {e.score_std or 0.0:.4f}"
        pred = [_num(e.predicted)] if has_pred else []
        lin = [("LINEAR" if e.linear else "") if e.linear is not None else ""] if has_lin else []
        expr, status = shown(expr, CELL_CHARS), status_cell(e)
        cells = [rank, expr, score, *pred, str(e.seeds), status, "" if e.complexity is None else str(e.complexity),
                 *lin, _flag(e.monotonic), _flag(e.bounded_below), _num(e.gain, 3), _num(e.dnr, 3), _num(e.pd, 3),
                 str(len(e.aliases)) if e.aliases else ""]
        cells += [_member_cell(e, t) for t in members]
        if has_val:
            cells.append("" if e.val_score is None else f"{e.val_score:.4f} ± {e.val_std or 0.0:.4f} ({e.val_seeds})")
        if refs:
            cells.append(verdict_symbols(e.vs, refs) if e.vs else "")
        if has_err:
            cells.append(shown(e.error or "", ERROR_CELL_CHARS))
        rows.append(cells)
    return head, rows


EXPRESSION_MIN_WIDTH = 32  # a terminal table's expression column folds no narrower than this
NARROW_DROPS = ("gain", "bnd↓", "mono", "cx", "linear", "aliases", "pd", "dnr")  # first to go when too wide

VERDICT_SYMBOLS = {"better": "▲", "worse": "▼", "no clear difference": "="}


def verdict_symbols(vs: dict[str, str], refs: list[str]) -> str:
    """``▲ / = / ▼``: one symbol per reference (▲ better, ▼ worse, = no clear difference, blank:
    not confirmed against that reference)."""
    return " / ".join(VERDICT_SYMBOLS.get(vs.get(r, ""), " ") for r in refs).rstrip()


def _member_label(task: str) -> str:
    """A panel member's column header: the task name, or a table's file name."""
    from actsearch.evaluators.reference import is_table

    return shown(task.rsplit("/", 1)[-1] if is_table(task) else task, NAME_CHARS)


def _member_cell(e: Entry, task: str) -> str:
    """"score (z)" of one panel member: its own score and the ReLU-normalised one."""
    if task not in e.panel:
        return ""
    z = e.panel_z.get(task)
    return f"{e.panel[task]:.4f}" + ("" if z is None else f" ({z:+.2f})")


def to_markdown(entries: list[Entry]) -> str:
    """A GitHub-flavoured Markdown table (``|`` in cells escaped)."""
    head, rows = columns(entries)

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"

    out = [line(head), "|" + "|".join("---" for _ in head) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out) + "\n"


def to_table(entries: list[Entry], *, width: int = 160) -> str:
    """A rich table rendered to plain text (references cyan, candidates stopped early dimmed, failures red)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    head, rows = columns(entries)
    # On a terminal, a column with no value in any row (properties off, no aliases ...) is left out,
    # and the expression keeps enough width to be read: the other columns fold first.
    keep = [j for j, h in enumerate(head) if h in ("rank", "expression", "score") or any(r[j] for r in rows)]
    head, rows = [head[j] for j in keep], [[r[j] for j in keep] for r in rows]
    left_out = []
    for name in NARROW_DROPS:  # too wide for the terminal: the shape properties go first
        need = sum(max([len(h), *(len(r[j]) for r in rows)]) + 3 for j, h in enumerate(head))
        if need <= width:
            break
        if name in head:
            j = head.index(name)
            head, rows = head[:j] + head[j + 1:], [r[:j] + r[j + 1:] for r in rows]
            left_out.append(name)
    longest = max((len(r[1]) for r in rows), default=10)
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    for h in head:
        table.add_column(h, justify="right" if h in ("rank", "pred", "seeds", "cx", "gain", "dnr", "pd") else "left",
                         overflow="fold", min_width=min(longest, EXPRESSION_MIN_WIDTH) if h == "expression" else None)
    for e, cells in zip(entries, rows, strict=True):
        style = "dim" if e.status == Status.STOPPED else "red" if e.status != Status.OK else (
            "cyan" if e.role == Role.REFERENCE else "")
        table.add_row(*(Text(c) for c in cells), style=style)  # Text: no markup from stored strings
    console = Console(file=io.StringIO(), width=width, color_system=None, highlight=False)
    console.print(table)
    if left_out:
        console.print(f"(left out for the width of {width} columns: {', '.join(left_out)}; "
                      "--format markdown or a wider terminal shows them)")
    return console.file.getvalue()
