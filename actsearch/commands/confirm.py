"""``confirm``: the top K of a run against the references on fresh seeds — a verdict, not an eyeball.

Trains what is missing (role ``confirmation``, seeds 1000 ..; resumable; ``--until-decided``:
in batches until every pair has a verdict; ``--workers K`` / ``--address``: on Ray, as a search
trains), then prints per
(candidate, reference) the paired mean difference, its 95 % interval, p, the Holm-adjusted p and
the verdict, and per candidate the winner's curse: search score against confirmed mean.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Any

import typer

from actsearch.commands.common import SET_OPTION, TASK_HELP, TIME_LIMIT_OPTION, print_json, task_overrides
from actsearch.errors import UserError

FORMATS = ("table", "json", "csv")
CSV_COLUMNS = ("expression", "against", "n", "mean_diff", "ci_low", "ci_high", "p", "p_adjusted", "effect_sd",
               "verdict", "search_score", "confirmed_mean", "confirmed_sd", "overstatement", "task", "paired")


def as_csv(doc: dict[str, Any]) -> str:
    """One row per comparison, with its candidate's winner's-curse columns."""
    by_expr = {c["expression"]: c for c in doc["candidates"]}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for c in doc["comparisons"]:
        cand = by_expr[c["expression"]]
        writer.writerow({**c, **{k: cand[k] for k in ("search_score", "confirmed_mean", "confirmed_sd",
                                                       "overstatement")}, "task": doc["task"], "paired": doc["paired"]})
    return out.getvalue()


def register(app: typer.Typer) -> None:
    """Add ``confirm`` to ``app``."""

    @app.command()
    def confirm(
        run_dir: Path = typer.Argument(..., help="run directory (holds run.sqlite)"),
        top: int = typer.Option(5, "--top", "-k", help="top candidates of the search to confirm"),
        against: str = typer.Option(None, "--against", help="references, e.g. relu,gelu,swish (default: the run's)"),
        seeds: int = typer.Option(10, "--seeds", "-n", help="fresh seeds 1000 .. 1000+N-1 (at least 2)"),
        alpha: float = typer.Option(0.05, "--alpha", help="family-wise error rate of the verdicts, in (0, 1)"),
        task: str = typer.Option(None, "--task", "-t", help=f"confirm on this task (default: the run's): {TASK_HELP}"),
        settings: list[str] | None = SET_OPTION,
        time_limit: float | None = TIME_LIMIT_OPTION,
        threads: int = typer.Option(1, "--threads", min=1, help="torch threads per training"),
        fmt: str = typer.Option("table", "--format", "-f", help="table, json or csv"),
        sequential: bool = typer.Option(False, "--until-decided",
                                        help="add --seeds more at a time until every pair is decided"),
        max_seeds: int = typer.Option(None, "--max-seeds", help="--until-decided: at most M seeds (default 3 N)"),
        workers: int = typer.Option(1, "--workers", "-w", help="concurrent trainings (more than 1: Ray Tune)"),
        address: str = typer.Option(None, "--address", help="HOST:PORT of a Ray cluster to train on"),
    ) -> None:
        """Train the top K and the references on fresh seeds; say which candidate is better, worse or
        not clearly different from each reference (paired t test, Holm-corrected)."""
        from actsearch.results.findings import verdict_table
        from actsearch.results.text import shown
        from actsearch.search.pipelines.confirm import check_options
        from actsearch.search.pipelines.confirm import confirm as run_confirm

        if fmt not in FORMATS:
            raise UserError(f"--format must be one of {', '.join(FORMATS)}, got {shown(fmt)!r}")
        refs = None if against is None else [r.strip() for r in against.split(",") if r.strip()]
        check_options(top, seeds, alpha, refs)
        if max_seeds is not None and not sequential:
            raise UserError("--max-seeds needs --until-decided")
        if sequential and max_seeds is None:
            max_seeds = 3 * seeds
        overrides: dict[str, Any] = task_overrides(task or "", None, None, None, None, settings)
        result = run_confirm(run_dir, top=top, against=refs, seeds=seeds, alpha=alpha, task=task, max_seeds=max_seeds,
                             overrides=overrides, threads=threads, time_limit_s=time_limit,
                             workers=workers, address=address, progress=lambda msg: print(shown(msg), file=sys.stderr))
        doc = result.to_json()
        if fmt == "json":
            print_json(doc)
        else:
            sys.stdout.write(verdict_table(doc) if fmt == "table" else as_csv(doc))
