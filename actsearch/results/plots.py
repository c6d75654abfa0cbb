"""Figures of a run (matplotlib, Agg, no pyplot state): functions and their derivatives, progress.

- :func:`functions_figure`: the top-K functions f and their derivatives f′ over [−6, 6], with every
  reference of the run (default relu, gelu, swish) drawn thin, each with its own dash pattern, on top;
  derivatives come from autograd on the compiled modules. The candidates' lines get thinner with
  rank and each lies above the one before, so a curve that coincides with another still shows.
- :func:`progress_figure`: best score so far vs. number of evaluations, one line per searcher, and
  a dashed level line at each reference's score.
- :func:`predicted_figure`: the ``surrogate`` searcher's predicted score vs. the real one, for
  the candidates it predicted before training (failures drawn at their score, 0, as crosses).
They return PNG bytes (``functions_plot`` and ``progress_plot`` return the matplotlib figures);
:func:`plot_run` writes the first two next to each other.

Stored values are data: a ranked row whose function cannot be built (an expression that no longer
parses, a constant beyond float32) is left out of a figure with one warning naming the row, and a
score beyond ±:data:`PLOT_MAX` (which no axis can scale to) is not drawn, with one warning.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from actsearch.errors import UserError
from actsearch.evaluators.result import Status
from actsearch.results.records import REFERENCES, Role, warn_once
from actsearch.results.text import clip, quoted, visible

X_RANGE = (-6.0, 6.0)
N_POINTS = 601
PLOT_MAX = 1e12  # a score beyond ±PLOT_MAX is not drawn (matplotlib cannot place ticks up to 1e308)


def _figure(ncols: int, width: float = 11.0, height: float = 4.2) -> tuple[Any, list[Any]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    return fig, axes


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def curve(module: Any) -> tuple[list[float], list[float], list[float]]:
    """x, f(x), f′(x) on :data:`X_RANGE` (float64; non-finite values become NaN gaps)."""
    import torch

    from actsearch.grammar.slope import value_and_slope

    x = torch.linspace(*X_RANGE, N_POINTS, dtype=torch.float64)
    y, dy = value_and_slope(module.double(), x)
    clean = lambda t: [v if math.isfinite(v) else math.nan for v in t.tolist()]  # noqa: E731
    return x.tolist(), clean(y), clean(dy)


# A reference's line: thin, on top of the candidates, each with its own dash pattern (the default
# references always the same one, in every figure; other names take the rest in turn).
_REF_DASHES = {"relu": (0, (6, 3)), "gelu": (0, (7, 2, 1.5, 2)), "swish": (0, (1.5, 1.5))}
_MORE_DASHES = ((0, (3, 3)), (0, (10, 3, 1.5, 3, 1.5, 3)), (0, (12, 4)), (0, (1, 3)))


def reference_style(name: str, i: int) -> dict[str, Any]:
    """Line keywords of the reference ``name``, the ``i``-th of its figure."""
    dashes = _REF_DASHES.get(name, _MORE_DASHES[i % len(_MORE_DASHES)])
    return {"ls": dashes, "color": "0.1" if i % 2 == 0 else "0.35", "lw": 1.3, "zorder": 30 + i}


def reference_modules(names: Sequence[str] = REFERENCES) -> dict[str, Any]:
    """The library modules of the references ``names`` (β = 1 where they have one); a name the
    library does not know (a damaged store) is left out with one warning."""
    from actsearch.grammar import library

    out = {}
    for name in dict.fromkeys(names):
        try:
            out[name] = library.get(name)
        except UserError as err:
            warn_once(f"not drawing the reference {quoted(name)}: {visible(clip(str(err), 200))}")
    return out


def run_references(meta: Mapping[str, Any], records: list[Any]) -> list[str]:
    """The references of a run: those its settings name and those it stored, in that order
    (:data:`~actsearch.results.records.REFERENCES` when it has none)."""
    spec = meta.get("spec") if isinstance(meta.get("spec"), dict) else {}
    named = spec.get("references") if isinstance(spec.get("references"), list) else []
    stored = [r.reference for r in records if isinstance(r.reference, str)]
    found = [n for n in (*named, *stored) if isinstance(n, str)]
    return list(dict.fromkeys(found)) or list(REFERENCES)


def functions_figure(curves: list[tuple[str, Any]], *, title: str = "",
                     references: bool | Sequence[str] = True) -> bytes:
    """PNG of :func:`functions_plot`."""
    return _png(functions_plot(curves, title=title, references=references))


def functions_plot(curves: list[tuple[str, Any]], *, title: str = "",
                   references: bool | Sequence[str] = True) -> Any:
    """f and f′ of each ``(label, module)`` over [−6, 6] and of the references (``True``: the default
    ones, a list: those names, ``False``: none), the references thin and dashed on top."""
    fig, (ax_f, ax_d) = _figure(2)
    names = REFERENCES if references is True else (references or ())
    refs = list(reference_modules(names).items())
    ys = []
    for i, (label, module) in enumerate(curves):
        x, y, dy = curve(module)
        ys.append(y)
        style = {"color": f"C{i % 10}", "lw": max(1.0, 3.2 - 0.45 * i), "alpha": 0.9, "zorder": 10 + i,
                 "solid_capstyle": "butt"}  # wider first, each above the one before: none hides another
        ax_f.plot(x, y, label=_short(label), **style)
        ax_d.plot(x, dy, **style)
    for i, (name, module) in enumerate(refs):
        x, y, dy = curve(module)
        ys.append(y)
        ax_f.plot(x, y, label=f"{_short(name, 30)} (reference)", **reference_style(name, i))
        ax_d.plot(x, dy, **reference_style(name, i))
    for ax, name in ((ax_f, "f(x)"), (ax_d, "f′(x)")):
        ax.axhline(0, color="0.85", lw=0.8, zorder=0)
        ax.axvline(0, color="0.85", lw=0.8, zorder=0)
        ax.set_xlim(*X_RANGE)
        ax.set_xlabel("x")
        ax.set_title(name)
    ax_f.set_ylim(*_limits(ys, (-3, 6)))
    ax_d.set_ylim(-1.5, 2.5)
    if curves or refs:
        ax_f.legend(fontsize=7, loc="upper left")
    if title:
        fig.suptitle(_short(title, 120), fontsize=10)
    return fig


def _short(label: str, n: int = 60) -> str:
    label = label if len(label) <= n else label[: n - 1] + "…"
    return visible(label).replace("$", r"\$")  # matplotlib would read $...$ as math text


def _limits(ys: list[list[float]], clip: tuple[float, float]) -> tuple[float, float]:
    vals = [v for y in ys for v in y if math.isfinite(v)]
    if not vals:
        return clip
    lo, hi = max(min(vals), clip[0]), min(max(vals), clip[1])
    pad = 0.05 * (hi - lo or 1.0)
    return lo - pad, hi + pad


def progress_figure(records: list[Any], *, title: str = "", levels: Mapping[str, float] | None = None) -> bytes:
    """PNG of :func:`progress_plot`."""
    return _png(progress_plot(records, title=title, levels=levels))


def progress_plot(records: list[Any], *, title: str = "", levels: Mapping[str, float] | None = None) -> Any:
    """Best score so far vs. number of evaluations, one step line per searcher, and a dashed level
    line per reference (``levels``: name -> score; default :func:`reference_levels` of the records)."""
    fig, (ax,) = _figure(1, width=7.0, height=4.0)
    for i, (searcher, ys) in enumerate(sorted(progress(records).items())):
        ax.step(range(1, len(ys) + 1), ys, where="post", color=f"C{i % 10}", label=_short(searcher, 30))
    levels = reference_levels(records) if levels is None else levels
    for i, (name, score) in enumerate(levels.items()):
        ax.axhline(score, **{**reference_style(name, i), "zorder": 1}, label=f"{_short(name, 30)} {score:.4f}")
    ax.set_xlabel("evaluations")
    ax.set_ylabel("best score so far")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="lower right")
    else:
        ax.text(0.5, 0.5, "no evaluations yet", ha="center", va="center", transform=ax.transAxes)
    if title:
        ax.set_title(_short(title, 120), fontsize=10)
    return fig


def reference_levels(records: list[Any], task: str | None = None) -> dict[str, float]:
    """Reference name -> its score on ``task`` (default: the run's search task), from its stored
    reference row with the most seeds (failed or undrawable rows left out)."""
    from actsearch.results.leaderboard import main_task

    task = task or main_task(records)
    best: dict[str, Any] = {}
    for rec in sorted(records, key=lambda r: r.id):
        if (rec.role != Role.REFERENCE or rec.alias_of is not None or not isinstance(rec.reference, str)
                or rec.task_label != task or rec.status != Status.OK or not plottable(rec)):
            continue
        if rec.reference not in best or len(rec.seeds) >= len(best[rec.reference].seeds):
            best[rec.reference] = rec
    return {name: rec.score for name, rec in best.items()}


def board_task(board: list[Any]) -> str | None:
    """The task a leaderboard ranks (None when it is empty)."""
    return next((e.task for e in board if e.role != Role.VALIDATION), None)


def progress(records: list[Any]) -> dict[str, list[float]]:
    """Searcher → running best score over its evaluated search candidates, in storage order.

    Failed candidates count as evaluations (they keep the previous best); aliases do not count.
    """
    out: dict[str, list[float]] = {}
    best: dict[str, float] = {}
    for rec in sorted(records, key=lambda r: r.id):
        if rec.role != Role.SEARCH or rec.alias_of is not None:
            continue
        name = rec.searcher or "search"
        score = rec.score if rec.status == Status.OK and plottable(rec) else -math.inf
        best[name] = max(best.get(name, -math.inf), score)
        out.setdefault(name, []).append(best[name] if math.isfinite(best[name]) else math.nan)
    return out


def predictions(records: list[Any]) -> list[tuple[float, float, bool]]:
    """(predicted, real score, ok) of every evaluated search candidate that was predicted."""
    out = []
    for rec in records:
        pred = (rec.metrics or {}).get("predicted")
        if rec.role != Role.SEARCH or rec.alias_of is not None or not isinstance(pred, (int, float)):
            continue
        ok = rec.status == Status.OK and plottable(rec)
        if math.isfinite(pred) and abs(pred) <= PLOT_MAX and (ok or rec.status != Status.OK):
            out.append((float(pred), rec.score if ok else 0.0, ok))
    return out


def plottable(rec: Any) -> bool:
    """Whether a stored row's score can be drawn: finite and within ±:data:`PLOT_MAX` (one warning
    names a row whose finite score is beyond it)."""
    if not math.isfinite(rec.score):
        return False
    if abs(rec.score) > PLOT_MAX:
        warn_once(f"not drawing the score {rec.score:.4g} of stored row id {rec.id}: beyond ±{PLOT_MAX:g}")
        return False
    return True


def spearman(xs: list[float], ys: list[float]) -> float:
    """Spearman's rank correlation (scipy's); NaN for fewer than 3 points or a constant side."""
    import warnings

    from scipy.stats import spearmanr

    if len(xs) < 3:
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input: scipy warns and returns NaN
        return float(spearmanr(xs, ys).statistic)


def predicted_figure(records: list[Any], *, title: str = "") -> bytes:
    """PNG: predicted vs. real score of the predicted candidates, with the diagonal and Spearman's ρ."""
    points = predictions(records)
    fig, (ax,) = _figure(1, width=5.5, height=5.0)
    ok = [(p, s) for p, s, good in points if good]
    bad = [(p, s) for p, s, good in points if not good]
    if ok:
        ax.scatter(*zip(*ok, strict=True), s=18, color="C0", label=f"trained ({len(ok)})")
    if bad:
        ax.scatter(*zip(*bad, strict=True), s=24, marker="x", color="C3", label=f"failed ({len(bad)})")
    if points:
        lo = min(min(p, s) for p, s, _ in points)
        hi = max(max(p, s) for p, s, _ in points)
        pad = 0.05 * (hi - lo or 1.0)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], ls="--", lw=1, color="0.5")
        ax.legend(fontsize=8, loc="upper left")
        rho = spearman([p for p, _, _ in points], [s for _, s, _ in points])
        title = (title + "  " if title else "") + (f"Spearman ρ = {rho:.2f}" if math.isfinite(rho) else "")
    else:
        ax.text(0.5, 0.5, "no predicted candidates", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("predicted score (before training)")
    ax.set_ylabel("real score")
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(_short(title, 120), fontsize=10)
    return _png(fig)


def entry_activation(entry: Any) -> Any:
    """The :class:`~actsearch.grammar.Activation` of a leaderboard entry (library references
    included); a UserError naming the stored row when its expression or constants do not build."""
    return _built(entry, lambda act: act)


def entry_module(entry: Any) -> Any:
    """The compiled torch module of a leaderboard entry, or a UserError naming the stored row."""
    return _built(entry, lambda act: act.module())


def _built(entry: Any, then: Any) -> Any:
    from actsearch.results.export import activation_of

    try:
        return then(activation_of(entry.expression, entry.params))
    except (ArithmeticError, RuntimeError, ValueError, TypeError, RecursionError) as err:  # UserError too
        why = str(err) if isinstance(err, UserError) else f"{type(err).__name__}: {err}"
        raise UserError(f"stored row id {entry.id} ({quoted(entry.expression)}): cannot build its function: "
                        f"{visible(clip(why, 200))}") from None


def entry_curves(entries: list[Any]) -> list[tuple[str, Any]]:
    """``(label, module)`` of the ranked entries to draw; an entry whose function cannot be built
    is left out with one warning naming its row."""
    out = []
    for e in entries:
        try:
            out.append((f"#{e.rank} {e.expression}", entry_module(e)))
        except UserError as err:
            warn_once(f"not drawing {err}")
    return out


def plot_run(run: Any, out: Path, *, top: int | None = 5, task: str | None = None) -> list[Path]:
    """Write ``out`` (top-K functions) and ``<stem>-progress.png`` (progress); return both paths."""
    if out.suffix.lower() != ".png":
        raise UserError(f"--out must name a .png file, got {out}")
    board = run.leaderboard(top=top, task=task, properties=False)
    curves = entry_curves([e for e in board if e.rank is not None])
    records = run.records()
    name = run.dir.name
    second = out.with_name(out.stem + "-progress.png")
    refs = run_references(run.meta, records)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(functions_figure(curves, title=f"{name}: top {len(curves)}", references=refs))
        second.write_bytes(progress_figure(records, title=name, levels=reference_levels(records, board_task(board))))
    except OSError as err:
        raise UserError(f"cannot write {out}: {err.strerror or err}") from None
    return [out, second]


def ascii_plot(module: Any, width: int = 61, height: int = 15) -> str:
    """A terminal sketch of f (``*``) over [−6, 6] with the axes, for ``actsearch show``."""
    import torch

    xs = torch.linspace(*X_RANGE, width, dtype=torch.float64)
    with torch.no_grad():
        ys = [v if math.isfinite(v) else math.nan for v in module.double()(xs).tolist()]
    lo, hi = _limits([ys], (-6.0, 6.0))
    grid = [[" "] * width for _ in range(height)]
    row_of = lambda y: round((hi - y) / (hi - lo) * (height - 1))  # noqa: E731
    if lo <= 0 <= hi:
        grid[row_of(0.0)] = ["-"] * width
    for r in range(height):
        grid[r][width // 2] = "+" if grid[r][width // 2] == "-" else "|"
    for c, y in enumerate(ys):
        if math.isfinite(y) and lo <= y <= hi:
            grid[row_of(y)][c] = "*"
    lines = [f"{hi:8.2f} ┤" + "".join(grid[0])] + ["         │" + "".join(r) for r in grid[1:-1]]
    lines.append(f"{lo:8.2f} ┤" + "".join(grid[-1]))
    lines.append(" " * 10 + f"{X_RANGE[0]:<{width // 2}g}0{X_RANGE[1]:>{width - width // 2 - 1}g}")
    return "f(x) over [-6, 6]\n" + "\n".join(lines)
