"""``actsearch inspect EXPR``: canonical form, fingerprint, parameters and properties of one
activation (an expression, or the name of a library function that is an expression)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from actsearch.commands.common import check_params_known, parse_params, print_json
from actsearch.errors import UserError, shorten


def resolve(expr: str, params: dict[str, float]) -> Any:
    """An Activation for expression text or a library name (see ``actsearch.grammar.library.resolve``)."""
    from actsearch.grammar.library import resolve as resolve_name

    return resolve_name(expr, params)


def report(act: Any) -> dict[str, Any]:
    """The JSON object ``inspect --json`` prints."""
    return {
        "expression": act.text,
        "canonical": act.canonical,
        "fingerprint": act.fingerprint,
        "params": act.params,
        "complexity": act.complexity,
        "trivial": act.trivial(),
        "properties": act.properties(),
    }


def plot_path(path: Path) -> Path:
    """The file ``--plot PATH`` writes: PATH itself when its suffix is an image format matplotlib
    writes, PATH + ``.png`` when it has no suffix; UserError (naming the formats) otherwise."""
    from matplotlib.backend_bases import FigureCanvasBase

    formats = sorted(FigureCanvasBase.get_supported_filetypes())
    suffix = path.suffix.lower().lstrip(".")
    if not suffix:
        return path.with_name(path.name + ".png")
    if suffix not in formats:
        raise UserError(f"--plot {shorten(path)}: unsupported image format {shorten(suffix)!r}; "
                        f"choose one of {', '.join(formats)}")
    return path


def plot(act: Any, path: Path) -> None:
    """Draw f and f' over [-6, 6] into an image file (its format from the suffix, see :func:`plot_path`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from actsearch.grammar.slope import value_and_slope

    x = torch.linspace(-6, 6, 1201, dtype=torch.float64)
    y, g = value_and_slope(act.module().double(), x)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(x, y, label="f(x)")
    ax.plot(x, g, "--", label="f'(x)")
    ax.axhline(0, color="grey", lw=0.5)
    ax.axvline(0, color="grey", lw=0.5)
    ax.set_title(act.canonical, fontsize=9)
    ax.legend()
    fig.tight_layout()
    try:
        fig.savefig(path, format=path.suffix.lower().lstrip(".") or None)
    except OSError as err:
        raise UserError(f"cannot write plot {shorten(path)}: {err.strerror or err}") from None
    finally:
        plt.close(fig)


def register(app: typer.Typer) -> None:
    """Add the ``inspect`` command."""

    @app.command()
    def inspect(
        expr: str = typer.Argument(
            ..., help="expression in x (e.g. 'x * sigmoid(beta * x)') or a library name"
        ),
        param: list[str] = typer.Option(
            None, "--param", "-p", help="initial value, NAME=NUMBER (repeatable)"
        ),
        as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
        plot_file: Path = typer.Option(
            None, "--plot", help="write a plot of f and f' over [-6, 6] (format from the suffix: png, pdf, svg ...; "
            "no suffix: .png)"
        ),
    ) -> None:
        """Canonical form, fingerprint, parameters and properties of an activation."""
        if plot_file is not None:
            plot_file = plot_path(plot_file)
        params = parse_params(param)
        act = resolve(expr, params)
        check_params_known(expr, params)
        info = report(act)
        if plot_file is not None:
            plot(act, plot_file)
        if as_json:
            print_json(info)
            return
        width = max(len(k) for k in info["properties"])
        print(f"expression   {info['expression']}")
        print(f"canonical    {info['canonical']}")
        print(f"fingerprint  {info['fingerprint']}")
        print(f"params       {', '.join(f'{k}={v:g}' for k, v in act.params.items()) or '(none)'}")
        print(f"complexity   {info['complexity']}")
        if info["trivial"]:
            print(f"trivial      {info['trivial']}")
        print("properties")
        for key, value in info["properties"].items():
            shown = (
                f"{value:.6g}"
                if isinstance(value, float)
                else str(value).lower()
                if value is not None
                else "-"
            )
            print(f"  {key:<{width}}  {shown}")
        if plot_file is not None:
            print(f"plot         {plot_file}")
