"""The base of actsearch's enums of stored text (statuses, roles, trial states).

A member *is* its text: ``Status.OK == "ok"``, and it prints, formats, JSON-encodes, writes to CSV
and binds in SQLite as ``ok``, so stored rows, tables and payloads read exactly as plain strings
did, and ``Status("ok")`` parses stored text. ``enum.StrEnum`` behaves so from Python 3.11 on;
this class gives the same on 3.10 (a plain ``str`` mixin formats as ``Status.OK`` on 3.12).
"""

from __future__ import annotations

import enum


class TextEnum(str, enum.Enum):
    """An enum whose members are their (text) values wherever they are shown or stored."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    @classmethod
    def values(cls) -> tuple[str, ...]:
        """The stored texts, in definition order (for messages naming the valid ones)."""
        return tuple(m.value for m in cls)
