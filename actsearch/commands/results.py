"""``leaderboard``, ``show``, ``plot``, ``report``, ``validate``, ``export``: look at a run's results.

Every command reads the run directory's store read-only (so it works while a search is still
running), except ``validate``, which adds rows with role ``validation`` and therefore waits for
the search to finish. A candidate is named by its rank (``3``), its store id (``id:17``) or as a
reference (``relu``, ``gelu``, ``swish``). Stored text is printed through :mod:`actsearch.results.text`:
control characters escaped, and a long field (a 20 MB error message) clipped with a count of the rest
(``--json`` prints all of it, JSON-escaped).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from actsearch.commands.common import (
    DATA_OPTION,
    HEAD_OPTION,
    INIT_OPTION,
    SET_OPTION,
    STEPS_OPTION,
    TASK_HELP,
    TIME_LIMIT_OPTION,
    TOP_HELP,
    print_json,
    task_overrides,
    top_limit,
)
from actsearch.errors import UserError
from actsearch.results.records import REFERENCES

REFS = ", ".join(REFERENCES)
KEY_HELP = f"rank (3), store id (id:17) or reference ({REFS})"


TRACE_LINES = 12  # last lines of a stored traceback that `show` prints (all of it is in --json)


def _details(run: Any, entry: Any) -> dict[str, Any]:
    """Everything known about one candidate: its leaderboard row, stored rows, properties."""
    from actsearch.results.learned import learned_constants
    from actsearch.results.plots import entry_activation
    from actsearch.results.records import Role

    rows = [r for r in run.records() if r.fingerprint == entry.fingerprint]
    out: dict[str, Any] = entry.to_dict()
    try:
        act = entry_activation(entry)
        out["canonical"] = out["canonical"] or act.canonical
        out["properties"] = act.properties()
        out["trivial"] = act.trivial()
    except UserError as err:
        out["properties"] = {"error": str(err)}
    out["rows"] = [{k: v for k, v in r.to_dict().items() if k not in ("fingerprint",)} for r in rows]
    scored = next((r for r in rows if r.id == entry.id), None)  # the row whose seeds give the score
    if scored is not None:  # the values its learnable constants reached, over its seeds
        out["learned"] = {n: c.to_dict() for n, c in learned_constants(scored.runs).items()}
    confirmed = run.verdicts() if any(r.role == Role.CONFIRMATION for r in rows) else None
    if confirmed is not None:  # its comparisons with the references on the confirmation's fresh seeds
        found = [c.to_json() for c in confirmed.comparisons if c.expression == entry.expression]
        if found:
            out["confirmation"] = {"task": confirmed.task, "alpha": confirmed.alpha, "seeds": list(confirmed.seeds),
                                   "comparisons": found}
    return out


def comparison_text(c: dict[str, Any]) -> str:
    """One comparison (the ``confirm`` JSON form) as text: mean diff, interval, p_adj, verdict."""
    def num(v: Any, sign: str = "+") -> str:
        return "-" if v is None else f"{v:{sign}.4f}"

    return (f"mean diff {num(c['mean_diff'])} [{num(c['ci_low'])}, {num(c['ci_high'])}]  "
            f"p_adj {num(c['p_adjusted'], '')}  n {c['n']}  {c['verdict']}")


def _print_details(info: dict[str, Any], curve: str) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from actsearch.results.learned import Learned
    from actsearch.results.text import CELL_CHARS, NAME_CHARS, SHOWN_CHARS, shown

    console = Console(highlight=False)
    title = f"rank {info['rank']}" if info["rank"] else (info["reference"] or f"id {info['id']}")
    table = Table(title=Text(shown(f"{title}: {info['expression']}", CELL_CHARS)), show_header=False,
                  show_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    skip = {"rows", "properties", "confirmation", "vs", "learned"}
    for k, v in info.items():
        if k not in skip and v not in (None, [], {}):
            table.add_row(Text(k), Text(shown(v)))
    for k, v in (info.get("properties") or {}).items():
        table.add_row(Text(f"property {k}"), Text(f"{v:.4g}" if isinstance(v, float) else shown(v)))
    console.print(table)
    for name, c in (info.get("learned") or {}).items():  # beside the initial value (params)
        console.print(Text(shown(Learned(**c).text((info.get("params") or {}).get(name)), CELL_CHARS)))
    conf = info.get("confirmation")
    if conf:
        console.print(Text(f"\nconfirmed on {shown(conf['task'], NAME_CHARS)} (seeds {conf['seeds'][0]}.."
                           f"{conf['seeds'][-1]}, alpha {conf['alpha']}, Holm-adjusted):", style="bold"))
        for c in conf["comparisons"]:
            console.print(Text(f"  vs {shown(c['against'], NAME_CHARS)}: {comparison_text(c)}"))
    console.print(Text("\nstored rows:", style="bold"))
    for r in info["rows"]:
        line = (f"  id {r['id']}  {shown(r['role'], NAME_CHARS):<10} {shown(r['task'], NAME_CHARS):<12} "
                f"{shown(r['status'], NAME_CHARS):<8} score {r['score']:.4f} ± {r['score_std']:.4f}  "
                f"seeds {shown(r['seeds'], NAME_CHARS)}  {shown(r['expression'], CELL_CHARS)}"
                + (f"  (alias of {r['alias_of']})" if r["alias_of"] else ""))
        console.print(Text(line))
        for s in r.get("runs") or []:
            console.print(Text(f"      seed {shown(s.get('seed'), NAME_CHARS)}: {shown(s.get('status'), NAME_CHARS)} "
                               f"{shown(s.get('score'), NAME_CHARS)} {shown(s.get('error') or '', 100)}"))
            trace = (s.get("metrics") or {}).get("traceback")  # a user task's exception
            if isinstance(trace, str) and trace.strip():
                for line in trace[-TRACE_LINES * SHOWN_CHARS:].rstrip().splitlines()[-TRACE_LINES:]:
                    console.print(Text(f"        | {shown(line, CELL_CHARS)}"))
    console.print(Text("\n" + curve))


def register(app: typer.Typer) -> None:
    """Add the results commands to ``app``."""
    run_arg = typer.Argument(..., help="run directory (holds run.sqlite)")

    @app.command()
    def leaderboard(
        run_dir: Path = run_arg,
        top: int = typer.Option(20, "--top", "-k", min=0, help=TOP_HELP.format("rows to show")),
        fmt: str = typer.Option("table", "--format", "-f", help="table, csv, json or markdown"),
        task: str = typer.Option(None, "--task", "-t", help="rank the results of this task"),
        all_: bool = typer.Option(False, "--all", help="also list failed candidates, with status and error, "
                                                       "and where the run's time went"),
        props: bool = typer.Option(True, "--properties/--no-properties",
                                   help="complexity, shape properties and gain (about 0.1 s a row)"),
    ) -> None:
        """Ranked results, one row per distinct function (aliases folded in and counted)."""
        from actsearch.results import open_run
        from actsearch.results.timings import timings

        with open_run(run_dir) as run:
            board = run.leaderboard(top=top_limit(top), task=task, include_failed=all_, properties=props)
            text = board.format(fmt, width=max(60, _width()))
            spent = timings(run.meta, run.records()) if all_ and fmt == "table" else None
        if fmt in ("csv", "json"):  # their columns stay the same: the notes go to stderr
            for note in board.notes:
                print(f"note: {note}", file=sys.stderr)
        sys.stdout.write("".join(f"note: {n}\n" for n in board.notes) + "no results yet\n"
                         if fmt == "table" and not board else text)
        if spent is not None:  # --all: where the run's time went
            sys.stdout.write("\ntimings:\n" + "".join(f"  {line}\n" for line in spent.lines()))

    @app.command()
    def show(
        run_dir: Path = run_arg,
        key: str = typer.Argument(..., help=KEY_HELP),
        out: Path = typer.Option(None, "--out", "-o", help="also write its plot (f, f′, references) as PNG"),
        as_json: bool = typer.Option(False, "--json", help="print JSON"),
    ) -> None:
        """Everything known about one candidate, and its plot."""
        from actsearch.results import open_run
        from actsearch.results.banner import SMOKE_BANNER, is_smoke
        from actsearch.results.plots import ascii_plot, entry_module, functions_figure

        with open_run(run_dir) as run:
            entry = run.entry(key)
            module = entry_module(entry)  # a stored function that does not build: one line naming its row
            info = _details(run, entry)
            smoke = is_smoke(run.meta)
        if out is not None:
            _write(out, functions_figure([(info["expression"], module)], title=info["expression"]))
        if smoke:  # on stderr with --json, whose object keeps its keys
            print(f"note: {SMOKE_BANNER}", file=sys.stderr if as_json else sys.stdout)
        if as_json:
            print_json(info)
        else:
            _print_details(info, ascii_plot(module))
        if out is not None:
            print(f"wrote {out}", file=sys.stderr)

    @app.command()
    def plot(
        run_dir: Path = run_arg,
        out: Path = typer.Option(..., "--out", "-o", help="PNG file; the progress figure goes next to it"),
        top: int = typer.Option(5, "--top", "-k", min=0, help=TOP_HELP.format("functions to draw")),
        task: str = typer.Option(None, "--task", "-t", help="task whose ranking is drawn"),
    ) -> None:
        """Top-K functions and derivatives over [−6, 6] with the run's references; best score vs
        evaluations, with a level line per reference."""
        from actsearch.results import open_run

        with open_run(run_dir) as run:
            paths = run.plot(out, top=top_limit(top), task=task)
        for p in paths:
            print(f"wrote {p}")

    @app.command()
    def report(
        run_dir: Path = run_arg,
        out: Path = typer.Option(..., "--out", "-o", help="HTML file to write"),
        top: int = typer.Option(20, "--top", "-k", min=0, help=TOP_HELP.format("leaderboard rows")),
        task: str = typer.Option(None, "--task", "-t", help="task whose ranking is shown"),
    ) -> None:
        """One self-contained HTML page: settings, leaderboard, plots, validation."""
        from actsearch.results import open_run

        with open_run(run_dir) as run:
            path = run.report(out, top=top_limit(top), task=task)
        print(f"wrote {path}")

    @app.command()
    def validate(
        run_dir: Path = run_arg,
        task: str = typer.Option(..., "--task", "-t", help=f"the task to validate on: {TASK_HELP}"),
        top: int = typer.Option(3, "--top", "-k", min=0, help=TOP_HELP.format("top candidates to re-evaluate")),
        seeds: int = typer.Option(3, "--seeds", "-n", min=1, help="seeds 0 .. N-1"),
        steps: int | None = STEPS_OPTION, init: str | None = INIT_OPTION, head: str | None = HEAD_OPTION,
        data_dir: Path | None = DATA_OPTION, settings: list[str] | None = SET_OPTION,
        time_limit: float | None = TIME_LIMIT_OPTION,
        source_task: str = typer.Option(None, "--from-task", help="rank on this task (default: the search's)"),
        no_refs: bool = typer.Option(False, "--no-references", help=f"skip the references ({REFS})"),
        threads: int = typer.Option(1, "--threads", min=1, help="torch threads per training"),
        as_json: bool = typer.Option(False, "--json", help="print JSON"),
    ) -> None:
        """Re-evaluate the top K (plus the references relu, gelu, swish) on another task with more seeds;
        store the rows."""
        from dataclasses import asdict

        from actsearch.results.text import shown
        from actsearch.search.pipelines.validate import SKIPPED
        from actsearch.search.pipelines.validate import validate as run_validate

        overrides: dict[str, Any] = task_overrides(task, steps, init, head, data_dir, settings)
        rows = run_validate(run_dir, task, top=top_limit(top), seeds=seeds, overrides=overrides, source_task=source_task,
                            references=not no_refs, threads=threads, time_limit_s=time_limit,
                            progress=None if as_json else lambda msg: print(shown(msg), file=sys.stderr))
        if as_json:
            print_json([asdict(r) for r in rows])
        else:
            print(f"validated {sum(r.status != SKIPPED for r in rows)} candidates on {rows[0].task}"
                  if rows else "nothing to validate")

    @app.command()
    def export(
        run_dir: Path = run_arg,
        key: str = typer.Argument(..., help=KEY_HELP),
        out: Path = typer.Option(..., "--out", "-o", help="file to write (my_act.py, my_act.pt or my_act.onnx)"),
        fmt: str = typer.Option("py", "--format", "-f", help="py (standalone module), torchscript or onnx"),
        name: str = typer.Option(None, "--name", help="class name (default: from the functions used)"),
        rank: int = typer.Option(2, "--rank", help="onnx: dimensions of the input (2: N x C, 4: N x C x H x W)"),
    ) -> None:
        """Write a candidate as a standalone torch module (only torch needed), a TorchScript file or an
        ONNX graph (elementwise; every dimension dynamic, the rank fixed by --rank)."""
        from actsearch.results import open_run

        with open_run(run_dir) as run:
            path = run.export(key, out, format=fmt, class_name=name, rank=rank)
        print(f"wrote {path}")


def _write(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as err:
        raise UserError(f"cannot write {path}: {err.strerror or err}") from None


def _width() -> int:
    import shutil

    return shutil.get_terminal_size((160, 24)).columns
