"""Fixtures of the results tests: a generated run store (see ``tests/helpers/stores.py``)."""

from tests.helpers.fixtures import run_dir

__all__ = ["run_dir"]
