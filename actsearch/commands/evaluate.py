"""``actsearch evaluate`` and ``actsearch baselines``: train child networks and show scores.

``evaluate EXPR|NAME --task T [--seeds N] [--steps S] [--json]`` scores one candidate;
``baselines --task T [--seeds N]`` scores the seed papers' activations side by side. A failing
candidate is a result (exit 0, with its status); a user error exits 2 with one line. Progress
goes to stderr, so ``--json`` output on stdout stays clean.
"""

from __future__ import annotations

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
    check_params_known,
    parse_params,
    print_json,
    task_overrides,
)
from actsearch.limits import check

BASELINES = ("relu", "prelu", "gelu", "swish", "silu", "mish", "elu", "selu", "smelu", "helu", "tanh",
             "gelu-sine", "gelu-sinc", "golu", "relu2", "xielu")


def run_with_progress(candidates: list[tuple[str, Any]], task: Any, seeds: list[int], *, threads: int,
                      time_limit_s: float | None, params: dict[str, float], quiet: bool = False) -> list[Any]:
    """Evaluate each (label, candidate) with a rich progress bar on stderr over seeds × checkpoints."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from actsearch.evaluators import evaluate

    per_seed = task.checkpoints
    results = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True, disable=quiet) as bar:
        for label, cand in candidates:
            job = bar.add_task(f"{label} on {task.name}", total=len(seeds) * per_seed)
            res = evaluate(cand, task, seeds, threads=threads, time_limit_s=time_limit_s, params=params,
                           report=lambda it, score, job=job: bar.update(job, completed=it))
            bar.update(job, completed=len(seeds) * per_seed)
            results.append(res)
    return results


def _check_run_settings(seeds: int, threads: int, time_limit: float | None) -> None:
    """``--seeds``, ``--threads`` and ``--time-limit`` inside their ranges, before any task is built."""
    check("seeds", seeds, label="--seeds")
    check("threads", threads, label="--threads")
    check("time_limit", time_limit, label="--time-limit")


def _check_memory(task: Any, seeds: int) -> None:
    """A built-in task whose seeds train as one stacked network needs memory for all of them."""
    from actsearch.evaluators.tasks import check_memory

    check_memory(task, seeds if task.batched else 1)


def result_json(label: str, task: str, res: Any) -> dict[str, Any]:
    """The ``--json`` object of one candidate."""
    return {
        "expression": label, "task": task, "status": res.status, "score": res.score,
        "score_std": res.score_std, "error": res.error, "metrics": res.metrics, "wall_s": res.wall_s,
        "runs": [{"seed": r.seed, "status": r.status, "score": r.score, "metrics": r.metrics,
                  "wall_s": r.wall_s, "error": r.error, "step": r.step} for r in res.runs],
    }


def _fmt(value: Any, spec: str = ".3f") -> str:
    return "-" if not isinstance(value, (int, float)) else format(value, spec)


def register(app: typer.Typer) -> None:
    """Add the ``evaluate`` and ``baselines`` commands to ``app``."""

    seeds_opt = typer.Option(1, "--seeds", "-n", min=1, help="number of seeds (0 .. N-1)")
    task_opt = typer.Option("mnist1d", "--task", "-t", help=TASK_HELP)
    steps_opt, init_opt, head_opt, data_opt, set_opt = STEPS_OPTION, INIT_OPTION, HEAD_OPTION, DATA_OPTION, SET_OPTION
    threads_opt = typer.Option(1, "--threads", min=1, help="torch threads per evaluation")
    limit_opt = TIME_LIMIT_OPTION
    json_opt = typer.Option(False, "--json", help="print one JSON object instead of a table")

    @app.command("evaluate")
    def evaluate_cmd(
        expression: str = typer.Argument(..., help="expression text (x * sigmoid(beta*x)) or a library name"),
        task: str = task_opt, seeds: int = seeds_opt, steps: int | None = steps_opt,
        init: str | None = init_opt, head: str | None = head_opt, data_dir: Path | None = data_opt,
        param: list[str] | None = typer.Option(None, "--param", "-p", help="initial constant, NAME=NUMBER"),
        setting: list[str] | None = set_opt, threads: int = threads_opt,
        time_limit: float | None = limit_opt, as_json: bool = json_opt,
    ) -> None:
        """Train child networks with EXPRESSION as the activation and print the score per seed.

        Tasks: mnist1d (default; deep plain MLP), mnist1d-shallow, mnist1d-resnet, the transfer tasks, digits,
        cifar10, xor, teacher, panel:A,B; your own as FILE.py:NAME or module:NAME (actsearch tasks lists them all).
        """
        from actsearch.evaluators import get_task
        from actsearch.evaluators.guard import import_time_limit

        _check_run_settings(seeds, threads, time_limit)
        params = parse_params(param)
        check_params_known(expression, params)
        with import_time_limit(time_limit):  # a task file that hangs at import is bounded too
            task_obj = get_task(task, **task_overrides(task, steps, init, head, data_dir, setting))
        _check_memory(task_obj, seeds)
        (res,) = run_with_progress([(expression, expression)], task_obj, list(range(seeds)), threads=threads,
                                   time_limit_s=time_limit, params=params, quiet=as_json)
        if as_json:
            print_json(result_json(expression, task, res))
            return
        _print_runs(expression, task, res)

    @app.command("baselines")
    def baselines_cmd(
        task: str = task_opt, seeds: int = typer.Option(3, "--seeds", "-n", min=1, help="number of seeds"),
        steps: int | None = steps_opt, init: str | None = init_opt, head: str | None = head_opt,
        data_dir: Path | None = data_opt, setting: list[str] | None = set_opt,
        only: list[str] | None = typer.Option(None, "--only", help="evaluate only these names (repeatable)"),
        threads: int = threads_opt, time_limit: float | None = limit_opt, as_json: bool = json_opt,
    ) -> None:
        """Score the seed papers' activations (relu, prelu, gelu, swish, silu, mish, elu, selu, smelu,
        helu, tanh), the 2026 AlphaEvolve finds (gelu-sine, gelu-sinc) and the newer golu, relu2, xielu on one task: accuracy mean ± std, reproducibility PD, dead-neuron rate, seconds."""
        from actsearch.evaluators import get_task
        from actsearch.evaluators.guard import import_time_limit

        _check_run_settings(seeds, threads, time_limit)
        names = list(only) if only else list(BASELINES)
        with import_time_limit(time_limit):
            task_obj = get_task(task, **task_overrides(task, steps, init, head, data_dir, setting))
        _check_memory(task_obj, seeds)
        results = run_with_progress([(n, n) for n in names], task_obj, list(range(seeds)), threads=threads,
                                    time_limit_s=time_limit, params={}, quiet=as_json)
        rows = [{"name": n, "status": r.status, "score": r.score, "score_std": r.score_std,
                 "test_acc": r.metrics.get("test_acc"), "pd": r.metrics.get("pd"), "dnr": r.metrics.get("dnr"),
                 "wall_s": r.wall_s, "error": r.error, **_panel_columns(r.metrics)}
                for n, r in zip(names, results, strict=True)]
        if as_json:
            print_json({"task": task, "seeds": seeds, "baselines": rows})
            return
        _print_baselines(task, seeds, rows)


def _panel_columns(metrics: dict[str, Any]) -> dict[str, Any]:
    """A panel task's per-member scores and normalised scores (``panel``, ``panel_z``), else nothing."""
    from actsearch.evaluators.result import PANEL_SCORE, PANEL_Z

    out = {name: {k[len(p):]: v for k, v in metrics.items() if k.startswith(p)}
           for name, p in (("panel", PANEL_SCORE), ("panel_z", PANEL_Z))}
    return out if out["panel"] else {}


def _print_runs(label: str, task: str, res: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{label} on {task}")
    for col in ("seed", "status", "score", "test acc", "val loss", "DNR", "steps/s", "seconds"):
        table.add_column(col, justify="left" if col == "status" else "right")
    for r in res.runs:
        m = r.metrics
        table.add_row(str(r.seed), r.status, _fmt(r.score, ".4f"), _fmt(m.get("test_acc"), ".4f"),
                      _fmt(m.get("val_loss")), _fmt(m.get("dnr")), _fmt(m.get("steps_per_s"), ".0f"),
                      _fmt(r.wall_s, ".1f"))
    console = Console()
    console.print(table)
    pd = res.metrics.get("pd")
    console.print(f"{res.status}: score {res.score:.4f} ± {res.score_std:.4f} over {len(res.runs)} seed(s)"
                  + (f", PD {pd:.3f}" if pd is not None else "") + (f"  ({res.error})" if res.error else ""),
                  markup=False, highlight=False)
    panel = _panel_columns(res.metrics)
    for name, value in panel.get("panel", {}).items():  # a panel task: each member's score and normalised score
        z = panel["panel_z"].get(name)
        console.print(f"  {name}: {value:.4f}" + ("" if z is None else f" (z {z:+.2f} vs relu)"),
                      markup=False, highlight=False)


def _print_baselines(task: str, seeds: int, rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"baselines on {task} ({seeds} seed{'s' if seeds > 1 else ''})")
    for col in ("activation", "status", "accuracy", "test acc", "PD", "DNR", "seconds"):
        table.add_column(col, justify="left" if col in ("activation", "status") else "right")
    for row in sorted(rows, key=lambda r: -r["score"]):
        table.add_row(row["name"], row["status"], f"{row['score']:.4f} ± {row['score_std']:.4f}",
                      _fmt(row["test_acc"], ".4f"), _fmt(row["pd"]), _fmt(row["dnr"]), _fmt(row["wall_s"], ".1f"))
    Console().print(table)
