"""Fixtures of the CLI tests: a generated run store to read and a private data cache."""

from tests.helpers.fixtures import private_cache, run_dir

__all__ = ["private_cache", "run_dir"]
