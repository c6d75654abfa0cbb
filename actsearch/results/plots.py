"""Figures of a run (matplotlib, Agg, no pyplot state): functions and their derivatives, progress.

- :func:`functions_figure`: the top-K functions f and their derivatives f′ over [−6, 6], with ReLU
  and Swish drawn as dashed references; derivatives come from autograd on the compiled modules.
- :func:`progress_figure`: best score so far vs. number of evaluations, one line per searcher.
- :func:`predicted_figure`: the ``surrogate`` searcher's predicted score vs. the real one, for
  the candidates it predicted before training (failures drawn at their score, 0, as crosses).
They return PNG bytes; :func:`plot_run` writes the first two next to each other.

Stored values are data: a ranked row whose function cannot be built (an expression that no longer
parses, a constant beyond float32) is left out of a figure with one warning naming the row, and a
score beyond ±:data:`PLOT_MAX` (which no axis can scale to) is not drawn, with one warning.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

from actsearch.errors import UserError
from actsearch.results.records import warn_once
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


def reference_modules() -> dict[str, Any]:
    """ReLU and Swish (β = 1) modules from the library."""
    from actsearch.grammar import library

    return {"relu": library.get("relu"), "swish": library.get("swish")}


def functions_figure(curves: list[tuple[str, Any]], *, title: str = "", references: bool = True) -> bytes:
    """PNG: f and f′ of each ``(label, module)`` over [−6, 6], ReLU and Swish dashed."""
    fig, (ax_f, ax_d) = _figure(2)
    refs = list(reference_modules().items()) if references else []
    ys = []
    for i, (label, module) in enumerate(curves):
        x, y, dy = curve(module)
        ys.append(y)
        ax_f.plot(x, y, label=_short(label), color=f"C{i % 10}", lw=1.6)
        ax_d.plot(x, dy, color=f"C{i % 10}", lw=1.6)
    for name, module in refs:
        x, y, dy = curve(module)
        ys.append(y)
        ax_f.plot(x, y, "--", color="0.45" if name == "relu" else "0.2", lw=1.0, label=f"{name} (reference)")
        ax_d.plot(x, dy, "--", color="0.45" if name == "relu" else "0.2", lw=1.0)
    for ax, name in ((ax_f, "f(x)"), (ax_d, "f′(x)")):
        ax.axhline(0, color="0.85", lw=0.8, zorder=0)
        ax.axvline(0, color="0.85", lw=0.8, zorder=0)
        ax.set_xlim(*X_RANGE)
        ax.set_xlabel("x")
        ax.set_title(name)
    ax_f.set_ylim(*_limits(ys, (-3, 6)))
    ax_d.set_ylim(-1.5, 2.5)
    ax_f.legend(fontsize=7, loc="upper left")
    if title:
        fig.suptitle(_short(title, 120), fontsize=10)
    return _png(fig)


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


def progress_figure(records: list[Any], *, title: str = "") -> bytes:
    """PNG: best score so far vs. number of evaluations, one step line per searcher."""
    fig, (ax,) = _figure(1, width=7.0, height=4.0)
    for i, (searcher, ys) in enumerate(sorted(progress(records).items())):
        ax.step(range(1, len(ys) + 1), ys, where="post", color=f"C{i % 10}", label=_short(searcher, 30))
    ax.set_xlabel("evaluations")
    ax.set_ylabel("best score so far")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="lower right")
    else:
        ax.text(0.5, 0.5, "no evaluations yet", ha="center", va="center", transform=ax.transAxes)
    if title:
        ax.set_title(_short(title, 120), fontsize=10)
    return _png(fig)


def progress(records: list[Any]) -> dict[str, list[float]]:
    """Searcher → running best score over its evaluated search candidates, in storage order.

    Failed candidates count as evaluations (they keep the previous best); aliases do not count.
    """
    out: dict[str, list[float]] = {}
    best: dict[str, float] = {}
    for rec in sorted(records, key=lambda r: r.id):
        if rec.role != "search" or rec.alias_of is not None:
            continue
        name = rec.searcher or "search"
        score = rec.score if rec.status == "ok" and plottable(rec) else -math.inf
        best[name] = max(best.get(name, -math.inf), score)
        out.setdefault(name, []).append(best[name] if math.isfinite(best[name]) else math.nan)
    return out


def predictions(records: list[Any]) -> list[tuple[float, float, bool]]:
    """(predicted, real score, ok) of every evaluated search candidate that was predicted."""
    out = []
    for rec in records:
        pred = (rec.metrics or {}).get("predicted")
        if rec.role != "search" or rec.alias_of is not None or not isinstance(pred, (int, float)):
            continue
        ok = rec.status == "ok" and plottable(rec)
        if math.isfinite(pred) and abs(pred) <= PLOT_MAX and (ok or rec.status != "ok"):
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
    board = [e for e in run.leaderboard(top=top, task=task, properties=False) if e.rank is not None]
    curves = entry_curves(board)
    name = run.dir.name
    second = out.with_name(out.stem + "-progress.png")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(functions_figure(curves, title=f"{name}: top {len(curves)}"))
        second.write_bytes(progress_figure(run.records(), title=name))
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
