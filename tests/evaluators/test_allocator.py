"""The allocator settings for training processes: taken on glibc, once per process; afterwards a
step that frees a dozen 1 MiB tensors together takes no fresh pages on the next step (glibc's
defaults give every page back and fault it in again: ~3,000 faults a step)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.train  # trains, starts Ray or runs a subprocess: not in the quick unit tier

CHILD = """
import resource, sys, torch
from actsearch.evaluators.training import allocator
ok = True
if sys.argv[1] == "keep":
    ok = allocator.keep_freed_memory()
    assert allocator.keep_freed_memory() == ok  # once per process: the second call says the same
x = torch.randn(20, 128, 100)
def step():
    hs = [x * float(i) for i in range(12)]  # 12 live tensors of 1 MiB, freed together
    return sum(h.sum() for h in hs)
for _ in range(5):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(100):
    step()
print(ok, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True, check=True)
    ok, faults = out.stdout.split()
    return ok, int(faults)


def test_freed_blocks_are_reused_after_keep_freed_memory():
    ok, kept = _faults("keep")
    assert ok == "True"  # this machine's libc is glibc
    _, default = _faults("default")
    assert kept < 1000 < default  # 100 steps × 12 MiB: ~300,000 faults by default, none once kept
