"""The search space and deduplication: core-unit spaces (``core``), space files and presets
(``files``), spaces around a known function (``around``), fingerprints and trivial candidates
(``dedup``), shape distance between candidates (``similarity``)."""

from actsearch.search.space.core import PRESETS, Space, SpaceError
from actsearch.search.space.files import load_space, space_from_dict, space_toml

__all__ = ["PRESETS", "Space", "SpaceError", "load_space", "space_from_dict", "space_toml"]
