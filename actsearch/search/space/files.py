"""Space files: a TOML table becomes a :class:`~actsearch.search.space.core.Space` and back.

``load_space(name_or_path)`` reads a built-in preset (``PRESETS``) or a TOML file (bounded in size;
errors are one-line :class:`SpaceError`); ``space_from_dict`` checks every key and builds the
space; ``space_toml`` writes a space back as the text of a file that loads to an equal space.
The keys are described in :mod:`actsearch.search.space.core`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from actsearch.errors import UserError
from actsearch.search.space.core import PRESET_DIR, PRESETS, Prim, Space, SpaceError, _prim

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

_KEYS = {"description", "units", "unary", "binary", "gated", "chain", "primitives", "base", "beta"}


def space_toml(space: Space) -> str | None:
    """The space as the text of a TOML space file that loads back to an equal space (its name
    aside), or None where no file can say it: primitives made in code that are not in the
    grammar's tables (or user primitives not after the built-in ones), or a file over the size
    bound. A run directory keeps this copy of a space given as an object (``space.toml``)."""
    from actsearch.limits import SPACE_FILE_MAX_BYTES
    from actsearch.search.space.around import FORMS

    user = space.user_primitives
    data: dict[str, Any] = {"description": space.description, "units": space.units,
                            "unary": [p.name for p in space.unary if p.name not in user and p.name != space.base],
                            "binary": [p.name for p in space.binary if space.base is None or p.name not in FORMS],
                            "gated": space.gated, "chain": space.chain}
    if space.base is not None:
        data |= {"base": space.base, "beta": space.beta}
    lines = [f"{key} = {_toml_value(value)}" for key, value in data.items()]
    if user:
        lines += ["", "[primitives]", *(f"{_toml_value(k)} = {_toml_value(v)}" for k, v in user.items())]
    text = "\n".join(lines) + "\n"
    try:
        if len(text.encode()) > SPACE_FILE_MAX_BYTES:
            return None
        back = space_from_dict(tomllib.loads(text), name=space.name)
    except (UserError, tomllib.TOMLDecodeError, UnicodeError):
        return None
    return text if back == space else None


def _toml_value(value: Any) -> str:
    """A TOML value for a bool, an int, a string or a list of strings (JSON's escapes are TOML's, and
    the one control character JSON leaves alone, DEL, is escaped too)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007f")


def space_from_dict(data: dict[str, Any], name: str = "space") -> Space:
    """Build a space from the parsed TOML table (see the module docstring)."""
    from actsearch.grammar import primitives

    unknown = set(data) - _KEYS
    if unknown:
        raise SpaceError(f"unknown key(s) in space {name!r}: {', '.join(sorted(unknown))}")
    user = data.get("primitives", {}) or {}
    if not isinstance(user, dict):
        raise SpaceError("[primitives] must be a table of name = \"expression in x\"")

    def pick(key: str, table: dict[str, Any]) -> list[Prim]:
        chosen = data.get(key, "all")
        names = list(table) if chosen == "all" else chosen
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise SpaceError(f"{key} must be \"all\" or a list of primitive names")
        bad = [n for n in names if n not in table]
        if bad:
            raise SpaceError(f"unknown {key} primitive(s) {', '.join(bad)}; valid: {', '.join(table)}")
        return [_prim(n, table[n].template) for n in names]

    unary = pick("unary", primitives.UNARY)
    for pname, text in user.items():
        if not isinstance(text, str) or pname in primitives.UNARY:
            raise SpaceError(f"primitive {pname!r} must be new and given as expression text in x")
        try:
            unary.append(_prim(pname, primitives.unary_from_text(pname, text).template))
        except UserError as err:
            raise SpaceError(f"primitive {pname!r}: {err}") from None
    units = data.get("units", 1)
    if not isinstance(units, int) or isinstance(units, bool):
        raise SpaceError(f"units must be an integer, got {units!r}")
    flags = {k: data.get(k, False) for k in ("gated", "chain")}
    if not all(isinstance(v, bool) for v in flags.values()):
        raise SpaceError("gated and chain must be true or false")
    binary = pick("binary", primitives.BINARY)
    around: dict[str, Any] = {}
    if "base" in data or "beta" in data:
        from actsearch.search.space import around as perturb

        base, beta = perturb.check(data.get("base"), data.get("beta", perturb.DEFAULT_BETA), data)
        unary, binary = perturb.extend(unary, binary, base, beta)
        around = {"base": base, "beta": beta}
    return Space(
        name=name,
        unary=tuple(unary),
        binary=tuple(binary),
        units=units,
        description=str(data.get("description", "")),
        user_primitives={k: str(v) for k, v in user.items()},
        **flags,
        **around,
    )


def load_space(preset_or_path: str | Path) -> Space:
    """A built-in preset by name (``PRESETS``) or a TOML space file."""
    key = str(preset_or_path)
    path = PRESET_DIR / f"{key.replace(':', '-')}.toml" if key in PRESETS else Path(key)
    from actsearch.limits import SPACE_FILE_MAX_BYTES

    try:
        if not path.is_file():
            raise SpaceError(f"no space preset or file {key!r}; presets: {', '.join(PRESETS)}")
        if path.stat().st_size > SPACE_FILE_MAX_BYTES:
            raise SpaceError(f"{path}: a space file is at most {SPACE_FILE_MAX_BYTES:,} bytes; this one has "
                             f"{path.stat().st_size:,}")
        with path.open("rb") as handle:  # the bound again, for a file that grows while it is read
            raw = handle.read(SPACE_FILE_MAX_BYTES + 1)
    except OSError as err:
        raise SpaceError(f"cannot read the space file {path}: {err.strerror or err}") from None
    if len(raw) > SPACE_FILE_MAX_BYTES:
        raise SpaceError(f"{path}: a space file is at most {SPACE_FILE_MAX_BYTES:,} bytes")
    try:
        data = tomllib.loads(raw.decode())
        space = space_from_dict(data, name=key if key in PRESETS else path.stem)
        space.source = key
        return space
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise SpaceError(f"{path}: bad TOML: {' '.join(str(err).split())[:200]}") from None
    except RecursionError:
        raise SpaceError(f"{path}: the TOML is nested too deeply for a space file") from None
