"""``actsearch search`` and ``actsearch resume``: run a search on Ray Tune into a run directory.

``search --space PRESET|FILE --searcher S --task T --budget N [--workers K] [--seeds S]
[--address HOST:PORT] [--run-dir D] [--seed N] [--scheduler halving|fifo|asha] [--no-prescreen]``
evaluates the references and then N candidates, storing each in ``D/run.sqlite`` as it finishes;
candidates the pre-screen rejects are stored ``invalid`` untrained (not counted in N). On a terminal
a live view shows progress, candidates per minute, failures and the current top 5; otherwise one
plain line per candidate. Ctrl-C stops (exit 130) and ``resume D`` continues where it stopped: it
is the one way to continue a run (``search`` into a directory that holds one says so and stops).
``search --preset rediscover|discover [--smoke]`` runs a whole pipeline instead
(:mod:`actsearch.search.pipelines`); ``resume D [--workers K] [--address A]`` continues it
too (its budget is its plan, so ``--budget`` is refused; it always logs one plain line per
candidate, so ``--plain`` changes nothing).
"""

from __future__ import annotations

import math
import sys
import threading
import time
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
    parse_options,
    task_overrides,
)
from actsearch.errors import UserError
from actsearch.evaluators.result import Status
from actsearch.results.banner import SMOKE_BANNER, is_smoke_preset
from actsearch.results.records import REFERENCES, Role
from actsearch.results.text import CELL_CHARS, shown
from actsearch.search.loop.trials import StudyEvent
from actsearch.search.pipelines import pipeline_names
from actsearch.search.searchers import ENTRY_POINT_GROUP, SEARCHERS
from actsearch.search.space import PRESETS

PACK_OPTION = typer.Option(
    None, "--pack", min=1,
    help="candidates one worker trains together as one stacked network (default: 8 candidate-seeds on "
         "tasks that batch, e.g. 8 one-seed candidates; 1 with --scheduler asha or on other tasks)")
SEARCHER_HELP = (f"{', '.join(SEARCHERS)}, an installed package's ({ENTRY_POINT_GROUP!r} entry points; "
                 "`actsearch searchers` lists them) or package.module:Class")
PIPELINES = tuple(p for p in pipeline_names() if not p.endswith("-smoke"))  # --smoke picks NAME-smoke


class Progress:
    """What the live view and the plain log show: counts, rate, failures, top 5."""

    def __init__(self, budget: int, records: list[Any]) -> None:
        self.budget, self.start = budget, time.monotonic()
        self.lock = threading.Lock()
        self.done = sum(1 for r in records if r.role == Role.SEARCH and r.trained)
        self.failures = sum(1 for r in records if r.role == Role.SEARCH and r.trained  # a stopped one scored
                            and r.status not in (Status.OK, Status.STOPPED))
        self.new = self.retries = 0
        self.screened = sum(1 for r in records if r.role == Role.SEARCH and not r.trained and r.alias_of is None
                            and (r.error or "").startswith("pre-screen"))
        self.board = [(r.score, r.score_std, shown(r.expression, CELL_CHARS), r.role) for r in records
                      if r.alias_of is None and r.status == Status.OK and math.isfinite(r.score)]

    def add(self, event: StudyEvent) -> None:
        with self.lock:
            if event.prescreen:  # rejected before training: not a trial
                self.screened += 1
                return
            if event.role == Role.SEARCH:
                self.done, self.new = event.evaluated, self.new + 1
                self.failures += event.status not in (Status.OK, Status.STOPPED)
            self.retries += event.retries
            if event.status == Status.OK and math.isfinite(event.score):
                self.board.append((event.score, event.score_std, shown(event.expression, CELL_CHARS), event.role))

    def rate(self) -> float:
        minutes = (time.monotonic() - self.start) / 60
        return self.new / minutes if minutes > 0 else 0.0

    def top(self, k: int = 5) -> list[tuple[float, float, str, Role]]:
        with self.lock:
            return sorted(self.board, key=lambda t: -t[0])[:k]

    def line(self, event: StudyEvent) -> str:
        if event.prescreen:
            return (f"[pre-screen] {shown(event.expression, CELL_CHARS)}: "
                    f"{shown(event.prescreen.removeprefix('pre-screen: '), CELL_CHARS)}")
        tag = "ref" if event.role == Role.REFERENCE else f"{self.done}/{self.budget}"
        extra = f" (retried {event.retries}x)" if event.retries else ""
        return (f"[{tag}] {event.status:<8} {event.score:.4f} ± {event.score_std:.4f}  "
                f"{shown(event.expression, CELL_CHARS)}{extra}  ({self.rate():.1f}/min)")

    def render(self) -> Any:
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        elapsed = time.monotonic() - self.start
        head = Text(f"{self.done}/{self.budget} candidates  ·  {self.rate():.1f}/min  ·  {self.failures} failed"
                    f"  ·  {self.retries} retried  ·  {self.screened} pre-screened  ·  {elapsed:.0f} s")
        table = Table(title="top 5", title_justify="left", box=None, pad_edge=False)
        for col in ("#", "score", "± std", "expression"):
            table.add_column(col, justify="right" if col != "expression" else "left")
        for i, (score, std, expr, role) in enumerate(self.top(), 1):
            table.add_row(str(i), f"{score:.4f}", f"{std:.4f}",  # stored text is never rich markup
                          Text(expr + ("  (reference)" if role == Role.REFERENCE else "")))
        return Group(ProgressBar(total=max(1, self.budget), completed=self.done, width=50), head, table)


def _run(spec: Any, run_dir: Path, resume: bool, plain: bool, force: bool = False) -> None:
    from rich.console import Console
    from rich.live import Live

    from actsearch.results.store import SqliteStore
    from actsearch.search.rundir.run import run

    try:
        records = []
        if (run_dir / "run.sqlite").is_file():
            with SqliteStore(run_dir, readonly=True) as stored:
                records = stored.candidates()
    except OSError as err:  # e.g. a directory on the way that this user may not enter
        raise UserError(f"cannot read the run directory {run_dir}: {err.strerror or err}") from None
    progress = Progress(spec.budget, records)
    console = Console()
    live_view = not plain and console.is_terminal

    def on_result(event: StudyEvent) -> None:
        progress.add(event)
        if not live_view:
            print(progress.line(event), flush=True)

    if live_view:
        with Live(console=console, refresh_per_second=2, get_renderable=progress.render, transient=False):
            summary, _ = run(spec, run_dir, resume=resume, on_event=on_result, force=force)
    else:
        summary, _ = run(spec, run_dir, resume=resume, on_event=on_result, force=force)
    if not live_view:
        print("top 5:")
        for i, (score, std, expr, role) in enumerate(progress.top(), 1):
            print(f"  {i}. {score:.4f} ± {std:.4f}  {expr}{'  (reference)' if role == Role.REFERENCE else ''}")
    screened = f", {progress.screened} rejected untrained by the pre-screen" if progress.screened else ""
    print(f"{summary.evaluated}/{summary.budget} candidates evaluated ({summary.new} now, "
          f"{summary.failures} failed{screened}) in {summary.wall_s:.0f} s; run directory: {run_dir}", flush=True)
    if summary.interrupted:
        print(f"interrupted; continue with: actsearch resume {run_dir}", file=sys.stderr)
        raise typer.Exit(130)


def _run_dir_option(text: str | None, flag: str = "--run-dir") -> Path | None:
    """``--run-dir`` as a path; empty text is refused (it would put the store in the current directory)."""
    if text is not None and not text.strip():
        raise UserError(f"{flag} is empty; name a directory")
    return None if text is None else Path(text)


def _default_run_dir(space: str, searcher: str, task: str, seed: int) -> Path:
    stem = Path(space).stem if space.endswith(".toml") else space
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{stem}-{searcher}-{task}-s{seed}")
    return Path("runs") / safe


def register(app: typer.Typer) -> None:
    """Add the ``search`` and ``resume`` commands to ``app``."""

    @app.command("search")
    def search_cmd(
        space: str | None = typer.Option(None, "--space", help=f"space preset ({', '.join(PRESETS)}) or TOML file"),
        searcher: str = typer.Option("evolution", "--searcher", help=SEARCHER_HELP),
        option: list[str] | None = typer.Option(
            None, "--option", "-O",
            help="a searcher option, NAME=VALUE (repeatable), e.g. population_size=20 or temperature=0"),
        task: str = typer.Option("mnist1d", "--task", "-t", help=TASK_HELP),
        budget: int | None = typer.Option(None, "--budget", "-b", help="candidates to evaluate (references not counted)"),
        workers: int = typer.Option(2, "--workers", "-w", min=1, help="trials running at once"),
        seeds: int = typer.Option(1, "--seeds", "-n", min=1, help="seeds per candidate (0 .. N-1)"),
        seed: int = typer.Option(0, "--seed", help="the searcher's random seed"),
        address: str | None = typer.Option(None, "--address", envvar="RAY_ADDRESS",
                                           help="HOST:PORT of a Ray head node (default: embedded local Ray)"),
        run_dir: str | None = typer.Option(None, "--run-dir", help="default runs/SPACE-SEARCHER-TASK-sSEED"),
        scheduler: str | None = typer.Option(
            None, "--scheduler",
            help="halving: every candidate trains briefly and the weak ones stop at a rung (1/9, 1/3 of the "
                 "steps; the default where the task trains packs and --seeds is 1); fifo: every candidate "
                 "trains in full; asha: Ray Tune's ASHA (--pack 1)"),
        cpus_per_trial: float = typer.Option(1.0, "--cpus-per-trial", min=0.01, help="CPUs (torch threads) per trial"),
        gpus_per_trial: float = typer.Option(0.0, "--gpus-per-trial", min=0.0, help="GPUs per trial"),
        pack: int | None = PACK_OPTION,
        steps: int | None = STEPS_OPTION, init: str | None = INIT_OPTION, head: str | None = HEAD_OPTION,
        data_dir: Path | None = DATA_OPTION, settings: list[str] | None = SET_OPTION,
        references: str = typer.Option(",".join(REFERENCES), "--references",
                                       help="library activations evaluated alongside (comma-separated, '' for none)"),
        time_limit: float | None = TIME_LIMIT_OPTION,
        plain: bool = typer.Option(False, "--plain", help="one line per candidate even on a terminal"),
        preset: str | None = typer.Option(None, "--preset", help=f"a whole pipeline: {', '.join(PIPELINES)} (see README.md)"),
        smoke: bool = typer.Option(False, "--smoke", help="with --preset: the same pipeline on a tiny budget"),
        prescreen: bool | None = typer.Option(
            None, "--prescreen/--no-prescreen",
            help="store candidates whose initial forward/backward pass is broken as invalid, untrained "
                 "(default: on, off for table: tasks; a resumed run keeps its setting)"),
        ship: list[Path] | None = typer.Option(
            None, "--ship",
            help="with --address: a file or directory of the task's code to ship to the cluster (repeatable; "
                 "instead of the default, see docs/guide.md, 'Run on a cluster'; resume ships the same)"),
    ) -> None:
        """Search a space for activation functions on Ray Tune; results go to RUN_DIR/run.sqlite."""
        from actsearch.search.rundir.spec import SearchSpec

        run_dir = _run_dir_option(run_dir)
        if preset is not None:
            if space or budget or steps or settings or option or init or head or prescreen is not None or pack \
                    or ship:
                raise UserError("--preset runs its own plan: --space, --budget, --steps, --set, --option, --pack, "
                                "--ship and --[no-]prescreen do not apply")
            name = preset + ("-smoke" if smoke else "")
            _run_preset(name, run_dir or Path("runs") / name, workers, False, address)
            return
        if smoke:
            raise UserError("--smoke needs --preset")
        if space is None or budget is None:
            raise UserError("--space and --budget are required (or --preset)")
        from actsearch.evaluators.reference import located

        task = located(task)  # workers may run elsewhere: tables (a panel's too) as absolute paths
        refs = tuple(r.strip() for r in references.split(",") if r.strip())
        _check_references(refs)
        spec = SearchSpec(space=space, searcher=searcher, task=task, budget=budget, seeds=seeds, seed=seed,
                          workers=workers, cpus_per_trial=cpus_per_trial, gpus_per_trial=gpus_per_trial,
                          address=address, scheduler=scheduler, references=refs,
                          task_overrides=task_overrides(task, steps, init, head, data_dir, settings),
                          time_limit_s=time_limit, prescreen=prescreen, searcher_options=parse_options(option),
                          pack=pack, ship=tuple(str(p) for p in ship or ()))
        _run(spec, run_dir or _default_run_dir(space, searcher, task, seed), False, plain)

    @app.command("searchers")
    def searchers_cmd() -> None:
        """List the searchers --searcher takes: built-in, and installed packages' (entry points of
        'actsearch.searchers'), with where each comes from."""
        from actsearch.search.searchers import searcher_origins

        origins = searcher_origins()
        width = max(map(len, origins))
        for name, origin in origins.items():
            print(f"{name:<{width}}  {origin}")

    @app.command("resume")
    def resume_cmd(
        run_dir: str = typer.Argument(..., help="a run directory written by `actsearch search`"),
        task: str | None = typer.Option(
            None, "--task", "-t",
            help="the run's task, to confirm it: needed when it is your code (FILE.py:NAME, module:NAME, an "
                 "entry point, a panel with such members), which resuming imports"),
        budget: int | None = typer.Option(None, "--budget", "-b",
                                          help="raise (or keep) the budget (not for a preset: its plan is its budget)"),
        workers: int | None = typer.Option(None, "--workers", "-w", min=1, help="trials running at once"),
        address: str | None = typer.Option(None, "--address", envvar="RAY_ADDRESS", help="HOST:PORT of a Ray head"),
        pack: int | None = PACK_OPTION,
        plain: bool = typer.Option(False, "--plain",
                                   help="one line per candidate even on a terminal (a preset always logs so)"),
        force: bool = typer.Option(
            False, "--force",
            help="resume even though the task's source (its file or module, a table: file) changed since the "
                 "run started: new candidates use the new source, stored ones keep their scores, and the "
                 "change is recorded in the run's metadata"),
    ) -> None:
        """Continue a stopped search or preset: nothing stored is lost or evaluated again (a task whose
        source changed since the run started is refused unless --force)."""
        from actsearch.results.store import SqliteStore
        from actsearch.search.rundir.source import confirm
        from actsearch.search.rundir.spec import check_budget, spec_from_store

        run_dir = _run_dir_option(run_dir, "RUN_DIR")
        try:
            stored = (run_dir / "run.sqlite").is_file()
        except OSError as err:  # a directory on the way that this user may not enter
            raise UserError(f"cannot read the run directory {run_dir}: {err.strerror or err}") from None
        if not stored:
            raise UserError(f"nothing to resume: {run_dir} holds no run store")
        with SqliteStore(run_dir, readonly=True) as store:
            meta = store.meta()
        preset = meta.get("preset")
        if preset:
            if budget is not None or pack is not None:
                raise UserError(f"{run_dir} holds the {preset!r} preset, whose plan fixes its budget and packs: "
                                "--budget and --pack do not apply")
            if task is not None:
                raise UserError(f"{run_dir} holds the {preset!r} preset, whose plan fixes its tasks: --task does "
                                "not apply")
            _run_preset(preset, run_dir, workers or int(meta.get("spec", {}).get("workers") or 2), True, address)
            return
        spec = spec_from_store(run_dir)  # every stored setting checked; nothing it names imported yet
        confirm(spec.task, task, spec.searcher_options)  # user code runs only when the user names it
        check_budget(run_dir, budget)
        spec.budget = spec.budget if budget is None else budget  # 0 is refused, not ignored
        spec.workers = spec.workers if workers is None else workers
        spec.address = address
        spec.pack = spec.pack if pack is None else pack
        _run(spec, run_dir, True, plain, force)


def _run_preset(name: str, run_dir: Path, workers: int, resume: bool, address: str | None) -> None:
    """Run a preset (its log is one plain line per candidate: ``--plain`` is how it always prints)."""
    from actsearch.search.pipelines import run_pipeline

    summary = run_pipeline(name, run_dir, workers=workers, resume=resume, address=address,
                           log=lambda line: print(line, flush=True))
    if summary["interrupted"]:
        print(f"interrupted; continue with: actsearch resume {run_dir}", file=sys.stderr)
        raise typer.Exit(130)
    print(f"{name}: {summary['evaluated']} search candidates in {sum(summary['wall_s'].values()):.0f} s "
          f"(phases: {summary['wall_s']}); run directory: {run_dir}", flush=True)
    if summary.get("found"):
        if is_smoke_preset(name):  # the verdict of a smoke run shows the procedure, not a result
            print(SMOKE_BANNER, flush=True)
        print("found (fresh seeds, paired, Holm-corrected):", *(f"  {line}" for line in summary["found"]),
              sep="\n", flush=True)
    if is_smoke_preset(name):
        print(SMOKE_BANNER, flush=True)


def _check_references(names: tuple[str, ...]) -> None:
    from actsearch.grammar.library import NAMES

    bad = [n for n in names if n not in NAMES]
    if bad:
        raise UserError(f"unknown reference activation {bad[0]!r}; valid: {', '.join(NAMES)}")
