"""``actsearch space PRESET|FILE [--dedup] [--list] [--json]``: inspect a search space."""

from __future__ import annotations

import typer

from actsearch.commands.common import print_json
from actsearch.errors import UserError
from actsearch.search.space import PRESETS

MAX_COUNT_RAW = 2_000_000  # raw candidates `space --dedup` counts (about 11 minutes at ~3,000 fingerprints/s)


def register(app: typer.Typer) -> None:
    """Add the ``space`` command to ``app``."""

    @app.command("space")
    def space_cmd(
        space: str = typer.Argument(..., help=f"preset ({', '.join(PRESETS)}) or a TOML space file"),
        dedup: bool = typer.Option(False, "--dedup", help="also count distinct candidates (by fingerprint)"),
        list_: bool = typer.Option(False, "--list", help="stream every candidate, one per line (with --dedup: distinct ones)"),
        as_json: bool = typer.Option(False, "--json", help="JSON: one object, or with --list one object per line"),
    ) -> None:
        """Primitive lists and raw size of a space; --dedup adds the distinct count and its time."""
        import json
        import sys

        from actsearch.search.space.dedup import count_distinct, distinct
        from actsearch.search.space.files import load_space

        sp = load_space(space)
        if list_:
            rows = ((t, p) for _, t, p, _ in distinct(sp)) if dedup else (sp.to_text(c) for c in sp.enumerate())
            try:
                for text, params in rows:
                    line = json.dumps({"expression": text, "params": params}) if as_json else text
                    sys.stdout.write(line + "\n")
                sys.stdout.flush()
            except BrokenPipeError:  # e.g. piped into head
                sys.stderr.close()
            return
        info = sp.summary()
        if dedup:
            if info["raw"] > MAX_COUNT_RAW:
                raise UserError(f"--dedup fingerprints every candidate: {info['raw']:.3g} raw ones would take about "
                                f"{info['raw'] / 3000 / 3600:.3g} h at ~3,000/s; counting is refused above "
                                f"{MAX_COUNT_RAW:,} (--list --dedup streams them instead)")
            info.update(count_distinct(sp))
        if as_json:
            print_json(info)
            return
        print(f"space {info['name']}: {info['description']}")
        print(f"units: {info['units']}" + ("  (gated)" if info["gated"] else "") + ("  (chain)" if info["chain"] else ""))
        print(f"unary ({len(info['unary'])}): {' '.join(info['unary'])}")
        print(f"binary ({len(info['binary'])}): {' '.join(info['binary'])}")
        if info.get("base"):
            print(f"around {info['base']}: u1 is {info['base']}; the forms' learnable beta starts at {info['beta']:g}")
        for name, text in info["primitives"].items():
            print(f"user primitive {name} = {text}")
        print(f"raw: {info['raw']:,}")
        if dedup:
            print(f"distinct: {info['distinct']:,}  invalid: {info['invalid']:,}  ({info['seconds']:.2f} s)")
