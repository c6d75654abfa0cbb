"""``actsearch features EXPR --task T``: the surrogate's cheap features of one candidate."""

from __future__ import annotations

from typing import Optional

import typer

from actsearch.commands.common import parse_params, print_json


def register(app: typer.Typer) -> None:
    """Add the ``features`` command to ``app``."""

    @app.command("features")
    def features_cmd(
        expression: str = typer.Argument(..., help="candidate in the expression language, or a library name"),
        task: str = typer.Option("mnist1d", "--task", "-t", help="task whose child network and data are probed"),
        param: Optional[list[str]] = typer.Option(None, "--param", "-p", help="initial value NAME=NUMBER"),  # noqa: UP045
        as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
    ) -> None:
        """Cheap features: shape properties and signal propagation at initialisation (at several
        values of the learnable constants), and a 20-step trainability proxy."""
        import time

        from actsearch.search.screening.features import (
            PARAM_VALUES,
            PROPAGATION_NAMES,
            PROXY_STEPS,
            SCALAR_NAMES,
            Featurizer,
        )
        from actsearch.search.screening.prescreen import PreScreen

        act = _activation(expression, parse_params(param))
        featurizer = Featurizer(task)
        start = time.perf_counter()
        values = featurizer.as_dict(act)
        verdict = PreScreen(probe=featurizer.probe)(act)
        seconds = time.perf_counter() - start
        if as_json:
            print_json({"expression": act.text, "canonical": act.canonical, "fingerprint": act.fingerprint,
                        "task": task, "param_values": list(PARAM_VALUES), "features": values,
                        "prescreen": verdict or "pass", "seconds": round(seconds, 4)})
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{act.text} on {task}" + ("" if act.params else " (no learnable constant)"))
        table.add_column("feature")
        for v in PARAM_VALUES:
            table.add_column(f"params={v:g}", justify="right")
        for name in (*SCALAR_NAMES, *PROPAGATION_NAMES):
            table.add_row(name, *(f"{values[f'{name}@{v:g}']:.4g}" for v in PARAM_VALUES))
        console = Console()
        console.print(table)
        console.print(f"trainability proxy ({PROXY_STEPS} Adam steps): loss {values['proxy_loss']:.4g}, "
                      f"accuracy {values['proxy_acc']:.3f}")
        console.print(f"pre-screen: {verdict or 'pass'}   ({seconds * 1000:.0f} ms)")


def _activation(text: str, params: dict[str, float]):  # noqa: ANN202 - returns actsearch.Activation
    from actsearch.grammar.library import resolve

    return resolve(text, params)
