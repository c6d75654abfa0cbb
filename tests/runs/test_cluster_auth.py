"""The guide's cluster recipe with token authentication, run as written on a loopback cluster:
``RAY_AUTH_MODE=token``, ``ray get-auth-token --generate`` (the token file in ``~/.ray``), a head
and a worker node started with it, and a search whose driver finds the same token file."""

from __future__ import annotations

import subprocess

import pytest

from actsearch.results.store import SqliteStore
from tests.helpers.cluster import RAY, base_env, cluster, search

pytestmark = pytest.mark.slow


def test_the_guides_token_recipe_runs_a_search(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    auth = {"HOME": str(home), "RAY_AUTH_MODE": "token"}  # a fresh ~ holds the generated token
    made = subprocess.run([RAY, "get-auth-token", "--generate"], env={**base_env(), **auth}, capture_output=True,
                          text=True, timeout=120)
    assert made.returncode == 0, made.stderr[-2000:]
    assert (home / ".ray" / "auth_token").is_file()
    run_dir = tmp_path / "run"
    with cluster(tmp_path, workers=1, env=auth) as address:
        proc = search(address, "xor", 1, run_dir, tmp_path, env=auth, timeout=300)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
        assert "InvalidAuthToken" not in proc.stderr
    with SqliteStore(run_dir, readonly=True) as store:
        assert [r.status for r in store.candidates(role="search") if r.trained] == ["ok"]
