"""How much memory a task's settings ask for, estimated before anything is built or trained.

Settings each inside their range (:mod:`actsearch.limits`) can still exhaust the machine together:
``width=4096 depth=64 batch_size=65536`` makes a 1 GiB tensor per layer, and ``mnist1d-vit
dim=4096 mlp_ratio=64`` 17 GB of weights. :func:`check` refuses such settings in one line naming
the estimate and the settings that drive it, when the estimate is above
:data:`actsearch.limits.MEMORY_FRACTION` of this machine's physical memory.

The estimate of a network comes from the network itself, built on torch's ``meta`` device (shapes
only, no memory) and run forward on one batch: its parameter count, and the elements of every
leaf module's output (what autograd keeps for the backward pass). In float32 a training then
needs about 4 bytes × (4 × parameters — the weights, their gradients and Adam's two moments —
+ 2 × activations — the outputs and their gradients — ) per stacked member, plus the data. It is
an order-of-magnitude guard against settings that cannot fit, not a profiler.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from actsearch.evaluators.errors import TaskError
from actsearch.limits import MEMORY_FRACTION

FLOAT_BYTES = 4  # float32
PARAM_COPIES = 4  # the weights, their gradients, Adam's first and second moments
ACTIVATION_COPIES = 2  # what the forward pass keeps for backward, and its gradients


class TooLargeError(TaskError):
    """Settings whose estimated memory is more than this machine can give one training."""


@dataclass(frozen=True)
class Needs:
    """What one training of a task holds: elements of parameters, of one batch's activations (per
    stacked member) and of the data (shared)."""

    params: int = 0
    activations: int = 0
    data: int = 0

    def bytes(self, members: int = 1) -> int:
        """Bytes for ``members`` networks trained together as one stack over the same data."""
        per_member = PARAM_COPIES * self.params + ACTIVATION_COPIES * self.activations
        return FLOAT_BYTES * (max(1, members) * per_member + self.data)


def network(build: Callable[[], Any], batch_shape: tuple[int, ...]) -> tuple[int, int]:
    """(parameters, activation elements of one forward pass) of the network ``build()`` makes, for
    an input of ``batch_shape``; built and run on the ``meta`` device, so nothing is allocated."""
    import torch

    outputs: list[int] = []

    def hook(_module: Any, _inputs: Any, out: Any) -> None:
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor):
                outputs.append(t.numel())

    with torch.device("meta"), torch.random.fork_rng():
        model = build()
        params = sum(p.numel() for p in model.parameters())
        handles = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
        try:
            model(torch.zeros(batch_shape))
        except Exception:  # noqa: BLE001 - an op without a meta kernel: count the parameters only
            outputs.clear()
        finally:
            for h in handles:
                h.remove()
    return params, sum(outputs)


def memory_bytes() -> int | None:
    """This machine's physical memory (None where the platform does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _size(n: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"


def check(task: str, needs: Needs, drivers: dict[str, Any], members: int = 1) -> None:
    """Refuse (one line, :class:`TooLargeError`) settings whose estimate is above the machine's share.

    ``drivers``: the settings the estimate grows with (named in the message)."""
    total, need = memory_bytes(), needs.bytes(members)
    if total is None or need <= MEMORY_FRACTION * total:
        return
    n = max(1, members)
    parts = (f"parameters {_size(FLOAT_BYTES * PARAM_COPIES * needs.params * n)} with gradients and Adam's state",
             f"activations of one batch {_size(FLOAT_BYTES * ACTIVATION_COPIES * needs.activations * n)}",
             f"data {_size(FLOAT_BYTES * needs.data)}")
    stacked = f" for {members} networks trained as one stack" if members > 1 else ""
    named = ", ".join(f"{k}={v}" for k, v in drivers.items()) or "its settings"
    raise TooLargeError(f"task {task}: training needs about {_size(need)} of memory{stacked} ({'; '.join(parts)}), "
                        f"more than {MEMORY_FRACTION:.0%} of this machine's {_size(total)}; driven by {named}: "
                        "lower them")
